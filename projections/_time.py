"""Time in the projections: integer microseconds since the epoch, UTC.

Stored events spell times canonically (``2019-03-01T09:00:00Z``, a six-digit fraction only
when there is one); these helpers convert between that spelling and the integers the
tables keep, which compare the same way in SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(moment: datetime) -> int:
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def format_time(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def format_us(us: int) -> str:
    return format_time(from_us(us))


def canonical_to_us(text: str) -> int:
    """Microseconds of a time already in the stored, canonical spelling."""
    return to_us(datetime.fromisoformat(text.replace("Z", "+00:00")))
