"""Campaign and plans documents from YAML or JSON text: the one place Pledge reads them.

The CLI, the API and the console all come here, so every door refuses the
same things, quickly and before anything is parsed into terms:

- anchors and aliases (``&a`` / ``*a``, and merge keys ``<<: *a`` that need
  them): a 342-byte "billion laughs" document expands to gigabytes when aliases
  are followed; a campaign file never needs them, so the first one is refused
  with its line, nothing is expanded;
- a document over :data:`MAX_DOCUMENT_BYTES` or nested deeper than
  :data:`MAX_DEPTH`;
- a key written twice in one mapping (YAML and JSON would silently keep the
  last one: ``per_account: 1`` then ``per_account: 5`` is a typo, not a wish);
- anything but a mapping at the top level.

Every refusal is an :class:`~pledge.domain.errors.InputError` naming the
source and the reason (CLI exit 2, HTTP 400).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, Final

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

from pledge.domain.errors import InputError

MAX_DOCUMENT_BYTES: Final = 1 << 20  # 1 MiB: a campaign file is a few hundred bytes
MAX_DEPTH: Final = 32


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader without anchors, aliases or repeated keys, and with a depth bound."""

    source = "document"

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]  # PyYAML's stubs leave it untyped
        line = event.start_mark.line + 1 if event.start_mark else 0
        if isinstance(event, yaml.AliasEvent):
            raise _refused(self.source, line, f"alias *{event.anchor} refused: files may not use aliases")
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise _refused(self.source, line, f"anchor &{anchor} refused: files may not use anchors")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise InputError(
                    f"{self.source} line {line}: nested deeper than {MAX_DEPTH} levels",
                    param="file",
                    code="too_deep",
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:  # noqa: N803 - PyYAML's own name
        # The scanner looks ahead over every open ``[``/``{`` for a possible key, which costs
        # the square of the nesting: refuse depth while scanning, before the composer sees a node.
        if self.flow_level >= MAX_DEPTH:
            line = self.get_mark().line + 1
            raise InputError(
                f"{self.source} line {line}: nested deeper than {MAX_DEPTH} levels",
                param="file",
                code="too_deep",
            )
        super().fetch_flow_collection_start(TokenClass)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: dict[object, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode):
                continue  # a list or mapping as a key: the constructor refuses it as unhashable
            key = key_node.value
            if key in seen:
                raise _refused(
                    self.source,
                    key_node.start_mark.line + 1,
                    f"{key!r} appears twice in one mapping (first on line {seen[key]})",
                    code="duplicate_key",
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


def _refused(source: str, line: int, reason: str, code: str = "invalid_yaml") -> InputError:
    return InputError(f"{source} line {line}: {reason}", param="file", code=code)


def _too_large(size: int, source: str) -> InputError:
    return InputError(
        f"{source}: {size:,} bytes is over the {MAX_DOCUMENT_BYTES:,}-byte limit for a document",
        param="file",
        code="document_too_large",
    )


def _check_size(text: str | bytes, source: str) -> str:
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_DOCUMENT_BYTES:
        raise _too_large(size, source)
    if isinstance(text, bytes):
        try:
            return text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{source}: not UTF-8 text (byte {exc.start})", param="file", code="invalid_encoding"
            ) from None
    return text


def _top_level(document: object, source: str, code: str) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise InputError(f"{source}: expected a mapping at the top level", param="file", code=code)
    return document


def load_yaml(text: str | bytes, source: str = "document") -> dict[str, Any]:
    """A YAML document (a campaign or plans file) as a mapping, or an InputError saying why not."""
    decoded = _check_size(text, source)
    loader: _StrictLoader | None = None
    try:
        loader = _StrictLoader(decoded)  # the reader refuses unprintable characters (NUL) here
        loader.source = source
        document = loader.get_single_data()
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: an integer of thousands of digits
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise InputError(
            f"{source}{where}: not valid YAML ({reason})", param="file", code="invalid_yaml"
        ) from None
    finally:
        if loader is not None:
            loader.dispose()
    return _top_level(document, source, "invalid_yaml")


def _no_repeats(source: str) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    def build(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise InputError(
                    f"{source}: {key!r} appears twice in one object", param=key, code="duplicate_key"
                )
            result[key] = value
        return result

    return build


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def check_json_depth(text: str, source: str, limit: int = MAX_DEPTH) -> None:
    """Refuse JSON nested deeper than ``limit`` before it is parsed.

    A parser recurses once per level: ``[[[[…`` a few thousand deep exhausts it (or, in other
    parsers, the stack). Strings are skipped first, so brackets inside them do not count; what is
    left is only brackets, walked once.
    """
    depth = 0
    for char in _NOT_BRACKET.sub("", _JSON_STRING.sub("", text)):
        depth = depth + 1 if char in "[{" else depth - 1
        if depth > limit:
            raise InputError(f"{source}: nested deeper than {limit} levels", param="file", code="too_deep")


def load_json(text: str | bytes, source: str = "document") -> dict[str, Any]:
    """A JSON document as a mapping: the same limits as YAML (size, depth, no repeated keys)."""
    decoded = _check_size(text, source)
    check_json_depth(decoded, source)
    try:
        document = json.loads(decoded, object_pairs_hook=_no_repeats(source))
    except (ValueError, RecursionError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{source}: not valid JSON ({reason})", param="file", code="invalid_json") from None
    return _top_level(document, source, "invalid_json")


def load_yaml_file(path: Path) -> dict[str, Any]:
    """A campaign or plans file; its size is checked before it is read."""
    try:
        size = path.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            raise _too_large(size, str(path))
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(
            f"{path}: cannot read ({exc.strerror})", param="file", code="unreadable_file"
        ) from None
    return load_yaml(data, str(path))
