"""Strict parsing of an event's JSON form into its normal form (``Event``), by its type's
definition (``_events``): every field named in what it says of bad input (exit 2)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from difflib import get_close_matches
from typing import Any, TypeVar

from projections import format_time

from ._errors import BadInput
from ._events import EVENT_TYPES, ROLES, Actor, Event, EventType, Field, Kind
from ._json import load_json
from ._lines import check_event_size
from ._time import describe_kind, parse_time

_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# uuid.UUID alone also takes braces, "urn:uuid:", stray hyphens, "_" and non-ASCII digits.
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_MAX_TEXT = 1024
_MAX_NOTE = 4096
# Control characters (C0, DEL, C1): a terminal acts on them instead of showing them (escape
# sequences), so no text holds one; a note, free text, keeps its tabs and line breaks.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NOTE_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

T = TypeVar("T")

_TOP_REQUIRED = ("type", "effective_at", "actor", "data")
_TOP_OPTIONAL = ("event_id", "note")
_ACTOR_FIELDS = ("id", "role", "tenant_id")


def parse_event_json(text: str | bytes) -> Event:
    """Parse one event from JSON text; bad input naming the field otherwise."""
    check_event_size(text)
    return parse_event(load_json(text))


class _Problems:
    """What is wrong with an event, every field at fault collected (not only the first)."""

    def __init__(self) -> None:
        self.found: list[BadInput] = []

    def check(self, parse: Callable[..., T], *args: Any) -> T | None:
        """``parse(*args)``, or None with its error noted."""
        try:
            return parse(*args)
        except BadInput as error:
            self.found.extend(error.problems)
            return None

    def add(self, field: str, message: str) -> None:
        self.found.append(BadInput(field, message))

    def raise_any(self) -> None:
        if self.found:
            raise BadInput.combined(self.found)


def parse_event(obj: object) -> Event:
    """Validate and normalise one event given as a decoded JSON object; bad input listing
    every missing or bad field at once otherwise."""
    if not isinstance(obj, dict):
        raise BadInput("event", f"must be a JSON object, got {describe_kind(obj)}")
    problems = _Problems()
    _no_unknown(
        problems,
        obj,
        _TOP_REQUIRED + _TOP_OPTIONAL,
        "",
        extra=("position", "recorded_at", "hash", "prev_hash"),
    )
    for name in _TOP_REQUIRED:
        if name not in obj:
            problems.add(name, "is missing")
    type_name = obj.get("type")
    event_type = None
    if "type" in obj and not isinstance(type_name, str):
        problems.add("type", f"must be a string, got {describe_kind(type_name)}")
    elif isinstance(type_name, str):
        event_type = EVENT_TYPES.get(type_name)
        if event_type is None:
            problems.add("type", f"{type_name[:64]!r} is not an event type (one of {', '.join(EVENT_TYPES)})")
    event_id = problems.check(_event_id, obj.get("event_id"))
    effective_at = None
    if "effective_at" in obj:
        effective_at = problems.check(lambda: format_time(parse_time(obj["effective_at"], "effective_at")))
    actor = problems.check(_actor, obj["actor"]) if "actor" in obj else None
    data = problems.check(_data, event_type, obj["data"]) if "data" in obj and event_type else None
    note = obj.get("note")
    if note is not None:
        note = problems.check(lambda: _text(note, "note", _MAX_NOTE, free=True))
    problems.raise_any()
    assert event_id is not None and effective_at is not None and actor is not None and data is not None
    return Event(event_id, str(type_name), effective_at, actor, data, note)


def _event_id(value: object) -> str:
    if value is None:
        return str(uuid.uuid4())
    if not isinstance(value, str):
        raise BadInput("event_id", f"must be a UUID string, got {describe_kind(value)}")
    if not _UUID.fullmatch(value):
        raise BadInput("event_id", f"{value[:64]!r} is not a UUID in its 8-4-4-4-12 hex form")
    return str(uuid.UUID(value))


def _actor(value: object) -> Actor:
    if not isinstance(value, dict):
        raise BadInput("actor", f"must be an object, got {describe_kind(value)}")
    problems = _Problems()
    _no_unknown(problems, value, _ACTOR_FIELDS, "actor.")
    parsed: dict[str, str | None] = {}
    for name, parse in (
        ("id", lambda v, n: _text(v, n, 256)),
        ("role", lambda v, n: _choice(v, n, ROLES)),
        ("tenant_id", _ident),
    ):
        if name not in value or value[name] is None:
            problems.add(f"actor.{name}", "is missing")
        else:
            parsed[name] = problems.check(parse, value[name], f"actor.{name}")
    problems.raise_any()
    return Actor(id=str(parsed["id"]), role=str(parsed["role"]), tenant_id=str(parsed["tenant_id"]))


def _data(event_type: EventType, value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadInput("data", f"must be an object, got {describe_kind(value)}")
    problems = _Problems()
    known = tuple(f.name for f in event_type.fields)
    _no_unknown(problems, value, known, "data.", for_type=event_type.name)
    data: dict[str, Any] = {}
    for f in event_type.fields:
        raw = value.get(f.name)
        name = f"data.{f.name}"
        if raw is None:
            if f.required:
                problems.add(name, f"is missing (required for {event_type.name})")
            continue
        parsed = problems.check(_VALIDATORS[f.kind], raw, name, f)
        if parsed is not None:
            data[f.name] = parsed
    if not problems.found:  # a check across fields reads fields that parsed
        for check in event_type.cross_checks:
            problems.check(check, data)
    problems.raise_any()
    return data


def _no_unknown(
    problems: _Problems,
    obj: dict[str, Any],
    known: tuple[str, ...],
    prefix: str,
    *,
    extra: tuple[str, ...] = (),
    for_type: str | None = None,
) -> None:
    for key in obj:
        if key not in known and key not in extra:
            where = f" for {for_type}" if for_type else ""
            # A key that would not show (empty, blank at an end, unprintable) is quoted.
            plain = isinstance(key, str) and key.isprintable() and key == key.strip() != ""
            shown = key if plain else repr(key)
            near = get_close_matches(key, known, n=1) if plain else []
            hint = f"; did you mean {near[0]}?" if near else ""
            problems.add(
                f"{prefix}{shown[:64]}", f"is not a known field{where} (known: {', '.join(known)}){hint}"
            )


def _text(value: object, name: str, limit: int = _MAX_TEXT, *, free: bool = False) -> str:
    """A name-like text (``free``: a note, which may hold tabs and line breaks)."""
    if not isinstance(value, str):
        raise BadInput(name, f"must be a string, got {describe_kind(value)}")
    if not value.strip():
        raise BadInput(name, "must not be empty")
    if len(value) > limit:
        raise BadInput(name, f"is {len(value)} characters long; at most {limit} are allowed")
    if not value.isprintable():  # a control character is not: most texts are looked at no further
        if "\x00" in value:
            raise BadInput(name, "must not contain the NUL character")
        control = (_NOTE_CONTROL if free else _CONTROL).search(value)
        if control is not None:
            raise BadInput(
                name,
                f"must not contain control characters (U+{ord(control.group()):04X} at character "
                f"{control.start() + 1}){'; tabs and line breaks are allowed' if free else ''}",
            )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(name, "is not valid Unicode text (lone surrogate)") from None
    return value


def _ident(value: object, name: str, _field: Field | None = None) -> str:
    if not isinstance(value, str):
        raise BadInput(name, f"must be a string id, got {describe_kind(value)}")
    if not _ID.fullmatch(value):
        raise BadInput(name, f"{value[:64]!r} is not an id (1 to 128 of A-Z a-z 0-9 . _ : -)")
    return value


def _choice(value: object, name: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        shown = repr(value[:64]) if isinstance(value, str) else describe_kind(value)
        raise BadInput(name, f"{shown} is not one of {', '.join(choices)}")
    return value


def _list(value: object, name: str, item: Callable[[object, str], str]) -> list[str]:
    if not isinstance(value, list):
        raise BadInput(name, f"must be a list, got {describe_kind(value)}")
    if not value:
        raise BadInput(name, "must not be empty")
    if len(value) > 64:
        raise BadInput(name, f"has {len(value)} items; at most 64 are allowed")
    items = [item(v, f"{name}[{i}]") for i, v in enumerate(value)]
    if len(set(items)) != len(items):
        raise BadInput(name, "must not repeat an item")
    return items


_VALIDATORS: dict[Kind, Callable[[object, str, Field], Any]] = {
    "id": _ident,
    "text": lambda v, n, f: _text(v, n),
    "time": lambda v, n, f: format_time(parse_time(v, n)),
    "choice": lambda v, n, f: _choice(v, n, f.choices),
    "ids": lambda v, n, f: _list(v, n, lambda x, m: _ident(x, m)),
    "texts": lambda v, n, f: _list(v, n, lambda x, m: _text(x, m, 128)),
}
