"""Times as users type them: strict parsing of RFC 3339 timestamps, and the clock.

Every conversion (to microseconds, to the canonical spelling and back) lives in
``projections/_time.py``; this module only decides what input is a time.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from projections import format_time

from ._errors import BadInput

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:[Zz]|[+-]\d{2}:\d{2})")
# The range every store and every output format handles without surprises.
_MIN = datetime(1900, 1, 1, tzinfo=UTC)
_MAX = datetime(9000, 1, 1, tzinfo=UTC)


def parse_time(value: object, field: str) -> datetime:
    """Parse an RFC 3339 timestamp with an offset; bad input naming ``field`` otherwise."""
    if not isinstance(value, str):
        raise BadInput(field, f"must be an RFC 3339 timestamp string, got {describe_kind(value)}")
    if not _RFC3339.fullmatch(value):
        raise BadInput(
            field,
            f"{value[:64]!r} is not an RFC 3339 timestamp with an offset "
            "(like 2019-03-01T09:00:00Z or 2019-03-01T10:00:00+01:00)",
        )
    try:
        parsed = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError as exc:
        offset = value[-6:]
        if offset[0] in "+-" and (int(offset[1:3]) > 23 or int(offset[4:]) > 59):
            raise BadInput(
                field, f"{value!r} has the offset {offset}: an offset must be between -23:59 and +23:59"
            ) from None
        raise BadInput(field, f"{value!r} is not a valid time: {exc}") from None
    try:
        utc = parsed.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:30:00+01:00 is before year 1 in UTC
        utc = None
    if utc is None or not _MIN <= utc < _MAX:
        raise BadInput(field, f"{value!r} is outside the years 1900 to 8999")
    return utc


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NO_OFFSET = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?")
MIDNIGHT_UTC = "midnight UTC"
UTC_ASSUMED = "no offset given: UTC assumed"


def parse_query_time(value: str, option: str) -> tuple[datetime, str | None]:
    """A time a question is asked at (``--as-of``, ``--known-at``, ``--since``, ``--until``),
    as people write it: RFC 3339 with an offset, a date (midnight UTC) or a date-time without
    an offset (UTC assumed). With it, what was assumed (``MIDNIGHT_UTC``, ``UTC_ASSUMED``;
    None: nothing). An event's own times stay strict (``parse_time``)."""
    if _RFC3339.fullmatch(value):
        return parse_time(value, option), None
    if _DATE.fullmatch(value):
        spelled, assumed = value + "T00:00:00Z", MIDNIGHT_UTC
    elif _NO_OFFSET.fullmatch(value):
        spelled = value[:10] + "T" + value[11:] + ("" if value.count(":") == 2 else ":00") + "Z"
        assumed = UTC_ASSUMED
    else:
        raise BadInput(
            option,
            f"{value[:64]!r} is not a time: give a date (2019-03-01, midnight UTC), a date and time "
            "without an offset (2019-03-01T09:00, UTC assumed) or RFC 3339 with an offset "
            "(2019-03-01T10:00:00+01:00)",
        )
    try:
        parsed = datetime.fromisoformat(spelled.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadInput(option, f"{value!r} is not a valid time: {exc}") from None
    if not _MIN <= parsed < _MAX:
        raise BadInput(option, f"{value!r} is outside the years 1900 to 8999")
    return parsed, assumed


def normalize_time(value: object, field: str) -> str:
    return format_time(parse_time(value, field))


def now() -> datetime:
    return datetime.now(UTC)


def describe_kind(value: object) -> str:
    """A JSON value's kind in words, for error messages."""
    return {
        type(None): "null",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)
