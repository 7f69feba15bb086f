"""Evidence files checked as a careful upload service checks them (ADR 28).

- at most ``MAX_EVIDENCE_BYTES``;
- the type is read from the content (magic bytes), never from the name: JPEG, PNG, WebP, PDF;
- an image is decoded by Pillow with a pixel limit (a decompression bomb is refused before it is
  decoded), turned upright, and re-encoded from its pixels alone, so EXIF (GPS included), XMP,
  comments and anything appended to the file are gone;
- a PDF is kept as sent, but one with scripts, launch actions or embedded files is refused;
- each file gets its SHA-256 (of what is stored) and, for an image, a 64-bit difference hash
  (dHash) that near-duplicates share within a few bits.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from typing import Final

from PIL import Image, ImageOps, UnidentifiedImageError

from pledge.domain.claims import MAX_EVIDENCE_BYTES, EvidenceRef
from pledge.domain.errors import InputError
from pledge.usecases.claim_ports import PreparedEvidence

MAX_PIXELS: Final = 40_000_000  # a 40 Mpx photo; a bomb claims far more than it carries
MAX_SIDE: Final = 12_000
_PIL_FORMATS: Final = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
_PDF_ACTIVE: Final = re.compile(rb"/(JavaScript|JS|Launch|EmbeddedFile|RichMedia|XFA)\b")


def sniff(data: bytes) -> str | None:
    """The kind of file the bytes are, by their first bytes; None if not one we take."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data.startswith(b"%PDF-"):
        return "pdf"
    return None


def _refuse(name: str, reason: str, code: str) -> InputError:
    return InputError(f"evidence {name}: {reason}", code=code, param="evidence")


class ImageEvidenceProcessor:
    """The :class:`~pledge.usecases.claim_ports.EvidenceProcessor` over Pillow."""

    def __init__(self, max_bytes: int = MAX_EVIDENCE_BYTES, max_pixels: int = MAX_PIXELS) -> None:
        self.max_bytes, self.max_pixels = max_bytes, max_pixels

    def prepare(self, name: str, data: bytes) -> PreparedEvidence:
        if len(data) > self.max_bytes:
            raise _refuse(
                name, f"is {len(data)} bytes; at most {self.max_bytes} are taken", "evidence_too_large"
            )
        if not data:
            raise _refuse(name, "is empty", "evidence_unsupported")
        kind = sniff(data)
        if kind is None:
            raise _refuse(
                name,
                "is not a JPEG, PNG, WebP or PDF file (judged by its content, not its name)",
                "evidence_unsupported",
            )
        if kind == "pdf":
            return _pdf(name, data)
        return self._image(name, data, kind)

    def _image(self, name: str, data: bytes, kind: str) -> PreparedEvidence:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            try:
                with Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[kind]]) as opened:
                    width, height = opened.size
                    if width * height > self.max_pixels or max(width, height) > MAX_SIDE:
                        raise _refuse(
                            name,
                            f"claims {width}x{height} pixels; at most {self.max_pixels} are decoded "
                            "(a decompression bomb?)",
                            "evidence_too_large",
                        )
                    opened.load()
                    upright = ImageOps.exif_transpose(opened)
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                raise _refuse(
                    name, "decodes to too many pixels (a decompression bomb?)", "evidence_too_large"
                ) from None
            except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
                reason = f"is not a readable {kind.upper()} image ({exc})"
                raise _refuse(name, reason, "evidence_unreadable") from None
        return _reencoded(upright, kind)


def _reencoded(image: Image.Image, kind: str) -> PreparedEvidence:
    """The pixels alone in a fresh image (no info, EXIF, ICC or text chunks), saved anew."""
    alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    mode = "RGBA" if alpha and kind != "jpeg" else "RGB"
    pixels = image.convert(mode)
    clean = Image.frombytes(mode, pixels.size, pixels.tobytes())
    out = io.BytesIO()
    if kind == "jpeg":
        clean.save(out, "JPEG", quality=90)
    elif kind == "png":
        clean.save(out, "PNG", optimize=False)
    else:
        clean.save(out, "WEBP", quality=90)
    content = out.getvalue()
    ref = EvidenceRef(hashlib.sha256(content).hexdigest(), kind, len(content), dhash(clean))
    return PreparedEvidence(ref, content)


def dhash(image: Image.Image) -> str:
    """A 64-bit difference hash: each bit says whether a pixel is brighter than its right neighbour
    on a 9x8 grey thumbnail. Re-saving, resizing or recompressing a picture keeps it within a few bits."""
    small = image.convert("L").resize((9, 8), Image.Resampling.LANCZOS)
    values = list(small.tobytes())  # one byte per pixel in mode L
    bits = 0
    for row in range(8):
        for col in range(8):
            bits = (bits << 1) | (values[row * 9 + col] > values[row * 9 + col + 1])
    return f"{bits:016x}"


def _pdf(name: str, data: bytes) -> PreparedEvidence:
    if b"%%EOF" not in data[-1024:]:
        raise _refuse(name, "is not a complete PDF file (no %%EOF at its end)", "evidence_unreadable")
    if _PDF_ACTIVE.search(data):
        raise _refuse(
            name, "is a PDF with scripts, actions or embedded files; send a plain one", "evidence_unsupported"
        )
    return PreparedEvidence(EvidenceRef(hashlib.sha256(data).hexdigest(), "pdf", len(data)), data)
