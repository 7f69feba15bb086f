"""Who acts: the person behind an actor, the unit four-eyes counts.

An actor is recorded as text: ``"finance.wang"`` from the command line's
past, ``"finance.wang (key_…)"`` from an API key (the key's person and the
key's id, so the audit trail says which key was used). Four-eyes counts
*persons*, never keys: a second key made under the author's name is still
the author. Persons compare after Unicode compatibility folding, case folding
and whitespace collapsing, so ``"Ops.Li"``, ``" ops.li "`` and full-width
``"ｏｐｓ.ｌｉ"`` are one person.
"""

from __future__ import annotations

import unicodedata

from pledge.domain.errors import InputError

MAX_PERSON = 80


def person_of(actor: str) -> str:
    """The canonical person behind an actor string (every ``" (key_…)"`` suffix removed)."""
    name = actor
    while True:
        head, sep, tail = name.rpartition(" (")
        if not (sep and tail.startswith("key_") and tail.endswith(")")):
            break
        name = head
    return " ".join(unicodedata.normalize("NFKC", name).split()).casefold()


def same_person(actor: str, other: str) -> bool:
    return person_of(actor) == person_of(other)


def key_actor(person: str, key_id: str) -> str:
    """How an API key's actions are recorded: its person and which key."""
    return f"{person} ({key_id})"


def check_person_name(name: str, param: str = "name") -> str:
    """A person's name for a key: 1 to 80 printable characters without parentheses.

    Parentheses are refused so that no name can imitate the ``(key_…)`` suffix
    and pass as someone else.
    """
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > MAX_PERSON:
        raise InputError(f"{param}: 1 to {MAX_PERSON} characters", param=param, code="invalid_person")
    if any(c in "()（）" or unicodedata.category(c)[0] == "C" for c in cleaned):
        raise InputError(
            f"{param}: {cleaned!r} may not contain parentheses or control characters",
            param=param,
            code="invalid_person",
        )
    return cleaned
