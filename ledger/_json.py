"""Strict JSON: one text decoded as orjson decodes it, refusing what JSON parsers take silently."""

from __future__ import annotations

import json
from typing import Any

import orjson

from ._errors import BadInput


def load_json(text: str | bytes) -> Any:
    """One JSON text (an event, a line of an import or a restore) decoded strictly: bad
    input for text that is not UTF-8 (naming the byte) or not JSON, and for a key given
    twice in one object, at any depth (naming it with its path: ``data.customer_id
    appears twice``), which JSON parsers take silently, the last one winning.

    orjson cannot tell; the standard library's parser can (``object_pairs_hook``) but takes
    several times as long, and an import decodes every line. So the text is decoded by
    orjson, and every string token of the text (each key and each string value) must still
    be in what it decoded: without a backslash in the text every ``"`` is a string's quote,
    so the text and the decoded value encoded again hold as many ``"`` exactly when no key
    was dropped. Only a text with a backslash (an escape could spell one key two ways), or
    whose counts differ, is decoded again by the precise parser, which names the key."""
    raw = text if isinstance(text, bytes) else _utf8(text)
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _not_json(raw, exc) from None
    if b"\\" in raw or raw.count(b'"') != _quotes(obj):
        _no_key_twice(raw)
    return obj


def _quotes(obj: Any) -> int:
    """The ``"`` in ``obj`` encoded by orjson; -1 for an object nested deeper than orjson
    encodes (it decodes deeper)."""
    try:
        return orjson.dumps(obj).count(b'"')
    except orjson.JSONEncodeError:
        return -1


def _utf8(text: str) -> bytes:
    """``text`` as the bytes it came from: a command line's undecodable bytes are kept as
    lone surrogates (``surrogateescape``), which become those bytes again."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")  # lone surrogates: invalid UTF-8, named


def _not_json(raw: bytes, exc: Exception) -> BadInput:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        return BadInput("event", f"is not valid JSON (not valid UTF-8 at byte offset {bad.start})")
    return BadInput("event", f"is not valid JSON ({exc})")


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as the precise parser saw it: every key, in order, repeats kept."""


def _no_key_twice(raw: bytes) -> None:
    """Bad input naming the first key given twice in one object of ``raw`` (valid JSON)."""
    try:
        tree = json.loads(raw.decode("utf-8"), object_pairs_hook=_Pairs)
    except RecursionError:
        raise BadInput("event", "is nested too deeply") from None
    stack: list[tuple[Any, str]] = [(tree, "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, _Pairs):
            seen: set[str] = set()
            for key, value in node:
                name = f"{path}.{_key_name(key)}" if path else _key_name(key)
                if key in seen:
                    raise BadInput(name, "appears twice")
                seen.add(key)
                stack.append((value, name))
        elif isinstance(node, list):
            stack.extend((value, f"{path}[{i}]") for i, value in enumerate(node))


def _key_name(key: str) -> str:
    """A key as an error shows it: quoted where it would not show (empty, blank at an end,
    unprintable), at most 64 characters."""
    plain = key.isprintable() and key == key.strip() != ""
    return (key if plain else repr(key))[:64]
