"""Strict parsing of an event's JSON form into its normal form (``Event``), by its type's
definition (``_events``): every field named in what it says of bad input (exit 2)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime
from difflib import get_close_matches
from typing import Any, TypeVar

from projections import canonical_to_us, format_time

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
    every missing or bad field at once otherwise.

    An event already in its normal form (nearly every event of an import or a restore) takes
    ``_fast``, which accepts nothing ``_parse_slowly`` would refuse and builds the same
    ``Event``; anything else (a field at fault, or a spelling to normalise) takes the full
    path, which names every bad field."""
    fast = _fast(obj)
    return fast if fast is not None else _parse_slowly(obj)


def _parse_slowly(obj: object) -> Event:
    """``parse_event``, collecting every field at fault."""
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


# --- the fast path ---------------------------------------------------------------------
# ``_fast`` answers an event only where every field is already in its normal form, by the
# same checks as the full path without collecting problems: a time in the canonical spelling
# (seconds, or six fraction digits not all zero), a lower-case UUID; anything else, or any
# check that fails, answers None and the full path decides (and names the fields). Input
# validation was about a seventh of an import's time (issue 18).

_TOP_KNOWN = frozenset(_TOP_REQUIRED + _TOP_OPTIONAL + ("position", "recorded_at", "hash", "prev_hash"))
_ACTOR_KEYS = frozenset(_ACTOR_FIELDS)
_CANONICAL_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{6})?Z")
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ROLES = frozenset(ROLES)


class _NotNormal(Exception):
    """A value the fast path leaves to the full path."""


def _fast_time(value: object) -> str:
    """A time already in the canonical spelling of a moment in the years 1900 to 8999."""
    if not isinstance(value, str) or not _CANONICAL_TIME.fullmatch(value):
        raise _NotNormal
    try:
        moment = datetime.fromisoformat(value[:-1])
    except ValueError:
        raise _NotNormal from None
    # The canonical spelling has six fraction digits only when they are not all zero; the
    # years 1900 to 8999, as ``parse_time``.
    if not 1900 <= moment.year < 9000 or (len(value) > 20 and not moment.microsecond):
        raise _NotNormal
    return value


def _fast_text(value: object, limit: int = _MAX_TEXT) -> str:
    """A name-like text with nothing to say about it: printable (no control character, no
    lone surrogate), not blank, at most ``limit`` characters."""
    if not isinstance(value, str) or len(value) > limit or not value.isprintable() or not value.strip():
        raise _NotNormal
    return value


def _fast_ident(value: object) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise _NotNormal
    return value


def _fast_list(value: object, item: Callable[[object], str]) -> list[str]:
    if not isinstance(value, list) or not value or len(value) > 64:
        raise _NotNormal
    items = [item(v) for v in value]
    if len(set(items)) != len(items):
        raise _NotNormal
    return items


def _fast_value(kind: Kind, value: object, f: Field) -> Any:
    if kind == "id":
        return _fast_ident(value)
    if kind == "text":
        return _fast_text(value)
    if kind == "time":
        return _fast_time(value)
    if kind == "choice":
        if not isinstance(value, str) or value not in f.choices:
            raise _NotNormal
        return value
    if kind == "ids":
        return _fast_list(value, _fast_ident)
    return _fast_list(value, lambda x: _fast_text(x, 128))


# Per type: its fields (name, kind, field, required), the names it knows, its cross-checks.
_FAST_TYPES = {
    t.name: (
        tuple((f.name, f.kind, f, f.required) for f in t.fields),
        frozenset(f.name for f in t.fields),
        t.cross_checks,
    )
    for t in EVENT_TYPES.values()
}


def _fast(obj: object) -> Event | None:
    """The event, if ``obj`` is one in its normal form; None: the full path decides."""
    if not isinstance(obj, dict) or not _TOP_KNOWN.issuperset(obj):
        return None
    try:
        type_name = obj["type"]
        spec = _FAST_TYPES.get(type_name) if isinstance(type_name, str) else None
        actor, data = obj["actor"], obj["data"]
        if spec is None or not isinstance(actor, dict) or not isinstance(data, dict):
            return None
        fields, known, cross_checks = spec
        event_id = obj.get("event_id")
        if event_id is None:
            event_id = str(uuid.uuid4())
        elif not isinstance(event_id, str) or not _CANONICAL_UUID.fullmatch(event_id):
            return None
        effective_at = _fast_time(obj["effective_at"])
        role = actor["role"] if actor.keys() == _ACTOR_KEYS else None
        if not isinstance(role, str) or role not in _ROLES:
            return None
        actor_id = _fast_text(actor["id"], 256)
        tenant_id = _fast_ident(actor["tenant_id"])
        if not known.issuperset(data):
            return None
        parsed: dict[str, Any] = {}
        for name, kind, f, required in fields:
            raw = data.get(name)
            if raw is None:
                if required:
                    return None
                continue
            parsed[name] = _fast_value(kind, raw, f)
        for check in cross_checks:
            check(parsed)
        note = obj.get("note")
        if note is not None:
            note = _fast_note(note)
    except (KeyError, _NotNormal, BadInput):
        return None
    event = Event(event_id, type_name, effective_at, Actor(actor_id, role, tenant_id), parsed, note)
    # Its effective time in microseconds, as ``Event.effective_us`` would parse it again.
    event.__dict__["effective_us"] = canonical_to_us(effective_at)
    return event


def _fast_note(value: object) -> str:
    """A note, free text: tabs and line breaks are allowed, no other control character."""
    if not isinstance(value, str) or len(value) > _MAX_NOTE or not value.strip():
        raise _NotNormal
    if not value.isprintable() and (_NOTE_CONTROL.search(value) or "\x00" in value):
        raise _NotNormal
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _NotNormal from None
    return value
