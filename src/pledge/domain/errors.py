"""Errors with stable codes.

Every error Pledge raises on purpose carries a ``code`` that scripts may rely on
(it never changes once published), a human ``message`` naming the thing and the
reason, and, where it applies, the ``param`` (field, row, condition) at fault.
``InputError`` means the caller sent something malformed (CLI exit 2, HTTP 400);
``RefusedError`` means a business rule said no (CLI exit 1, HTTP 409/422).
"""

from __future__ import annotations

QUOTED_MAX_CHARS = 60


def quoted(value: object) -> str:
    """A value as an error message quotes it: ``repr``, clipped so a hostile field stays one line."""
    text = repr(value)
    return text if len(text) <= QUOTED_MAX_CHARS else text[: QUOTED_MAX_CHARS - 3] + "..."


class PledgeError(Exception):
    """Base of every deliberate Pledge error."""

    code: str = "pledge_error"

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.param = param

    def __str__(self) -> str:
        return self.message


class InputError(PledgeError):
    """Malformed input: a file, a field, an argument."""

    code = "invalid_input"


class RefusedError(PledgeError):
    """A well-formed request that a business rule refuses."""

    code = "refused"


class NotFoundError(PledgeError):
    """The named object does not exist."""

    code = "not_found"


class ConflictError(PledgeError):
    """Someone else changed the same thing at the same time; retrying is safe."""

    code = "conflict"


class InvariantViolation(PledgeError):
    """An invariant that must never break did break: a bug or tampering, never user error."""

    code = "invariant_violated"
