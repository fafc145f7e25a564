"""Time, in one home: integer microseconds since the epoch (UTC), and the canonical spelling.

Stored events spell every time in UTC with a ``Z`` (``2019-03-01T09:00:00Z``, with six
fraction digits only when there is a fraction). Tables keep integer microseconds since
the epoch, which sort and compare the same way in SQLite and PostgreSQL. Every conversion
between a ``datetime``, the canonical spelling and microseconds is here; the write side
uses these too (``ledger/_time.py`` only parses what a user typed, strictly).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
SECOND_US = 1_000_000
DAY_US = 86_400 * SECOND_US


def to_us(moment: datetime) -> int:
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * SECOND_US + delta.microseconds


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def format_time(moment: datetime) -> str:
    """The canonical spelling of ``moment``."""
    moment = moment.astimezone(UTC)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def format_us(us: int) -> str:
    """``format_time(from_us(us))``, in half the time (it counts in ``por``'s latency): naive
    UTC arithmetic and ``isoformat``, which adds six fraction digits only when there is a
    fraction, as ``format_time`` does. ``isoformat`` pads years below 1000 and ``strftime``
    does not, so those take ``format_time``."""
    moment = _NAIVE_EPOCH + timedelta(microseconds=us)
    return moment.isoformat() + "Z" if moment.year >= 1000 else format_time(from_us(us))


def canonical_time(text: str) -> datetime:
    """The moment a time in the stored, canonical spelling names (an aware ``datetime``)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@lru_cache(maxsize=8192)
def canonical_to_us(text: str) -> int:
    """Microseconds of a time already in the stored, canonical spelling. Remembered for the
    last times asked about (more than an append's batch of events): one event's time is
    asked for by its parsing, its lateness and its fold (issue 18: times were parsed several
    times an event)."""
    return to_us(canonical_time(text))
