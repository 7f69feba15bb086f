"""Evidence kept in a local directory, one file per SHA-256 (content-addressed).

``PLEDGE_EVIDENCE_DIR`` names the directory (default ``pledge-evidence`` in the working
directory, beside the default database). Files are written to a temporary name and renamed,
so a reader never sees half a file; the directory is private to the user running Pledge.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from pledge.domain.errors import InputError
from pledge.usecases.claim_ports import PreparedEvidence

DEFAULT_EVIDENCE_DIR: Final = "pledge-evidence"
_SHA256: Final = re.compile(r"^[0-9a-f]{64}$")


def evidence_dir(env: Mapping[str, str] | None = None) -> Path:
    settings = os.environ if env is None else env
    return Path(settings.get("PLEDGE_EVIDENCE_DIR") or Path.cwd() / DEFAULT_EVIDENCE_DIR)


class LocalEvidenceStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def _path(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise InputError(f"evidence: {sha256!r} is not a SHA-256 in hex", param="evidence")
        return self.root / sha256[:2] / sha256

    def put(self, evidence: PreparedEvidence) -> None:
        path = self._path(evidence.ref.sha256)
        if path.exists():
            return
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(evidence.content)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temp, 0o600)
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def open(self, sha256: str) -> bytes | None:
        path = self._path(sha256)
        return path.read_bytes() if path.is_file() else None
