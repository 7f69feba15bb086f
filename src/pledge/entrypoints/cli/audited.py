"""Every command that changes something writes an audit entry, as every HTTP mutation does.

One mechanism: a command opens ``with audited(pledge, action, subject, actor) as call:`` and hands
``call.uow`` to its use case instead of ``pledge.uow``. Every unit of work it makes shares one
:class:`CallAudit`; the first that commits writes the entry in its own transaction (its "before"
read in that transaction too). A command that committed nothing (a repeat, a no-op) still leaves
an entry when it ends without error: who asked, and the state. The actor is the key's person and
key id (``--key``) where the command takes a key, else ``--actor`` (default: the OS user); the
request id is ``cli_`` and 16 hex digits, and the API key id is empty without a key.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pledge.adapters.sqlalchemy.audit_log import CallAudit
from pledge.adapters.webhooks.uow import append_unchanged, hooked_factory
from pledge.bootstrap import App
from pledge.usecases.ports import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class AuditedCall:
    audit: CallAudit
    uow: UnitOfWorkFactory


def cli_audit(actor: str, action: str, subject: str, key_id: str = "", **extra_after: Any) -> CallAudit:
    """The audit entry of one command (written by the unit of work or the store that changes things)."""
    return CallAudit(actor, key_id, f"cli_{secrets.token_hex(8)}", action, subject, dict(extra_after))


@contextmanager
def audited(
    pledge: App,
    action: str,
    subject: str,
    actor: str,
    key_id: str = "",
    *,
    changes: bool = True,
    **extra_after: Any,
) -> Iterator[AuditedCall]:
    """Run a command's use case audited: ``call.uow`` is its unit-of-work factory.

    ``changes=False`` (a dry run): nothing is written, as a dry run over HTTP is not audited.
    """
    audit = cli_audit(actor, action, subject, key_id, **extra_after)
    if not changes:
        yield AuditedCall(audit, pledge.uow)
        return
    yield AuditedCall(audit, hooked_factory(pledge.engine, pledge.clock, audit))
    append_unchanged(pledge.engine, audit, pledge.wall_clock)
