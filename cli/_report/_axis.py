"""The timeline's axis: calendar ticks (years, months, days or hours), as many as fit; months
where the span is short enough for them, named ("Apr") with the year at each January."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from ._geometry import X0, X1, Scale, text_width
from ._model import Tick

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def axis_ticks(scale: Scale) -> list[Tick]:
    """Calendar ticks (years, months, days or hours), as many as fit with room for labels."""
    start = datetime.fromtimestamp(scale.start / 1e6, UTC)
    end = datetime.fromtimestamp(scale.end / 1e6, UTC)
    span_px = X1 - X0
    steps: list[tuple[str, int, str]] = [
        ("hour", 1, "%m-%d %H:%M"),
        ("hour", 3, "%m-%d %H:%M"),
        ("hour", 6, "%m-%d %H:%M"),
        ("hour", 12, "%m-%d %H:%M"),
        ("day", 1, "%Y-%m-%d"),
        ("day", 2, "%Y-%m-%d"),
        ("day", 7, "%Y-%m-%d"),
        ("month", 1, "%Y"),  # "2020" at January, else the month's name ("Apr")
        ("month", 3, "%Y"),
        ("month", 6, "%Y"),
        ("year", 1, "%Y"),
        ("year", 2, "%Y"),
        ("year", 5, "%Y"),
        ("year", 10, "%Y"),
        ("year", 25, "%Y"),
        ("year", 100, "%Y"),
        ("year", 1000, "%Y"),
    ]
    seconds = {"hour": 3600, "day": 86_400, "month": 2_629_800, "year": 31_557_600}
    span_s = (end - start).total_seconds()
    for unit, n, fmt in steps:
        label_w = text_width(start.strftime(fmt), 11) + 18
        if span_s / (seconds[unit] * n) > span_px / label_w + 1:
            continue  # far too many: not worth listing
        moments = list(_calendar(start, end, unit, n))
        if len(moments) <= 1 or span_px / len(moments) >= label_w:
            break
    else:
        unit, moments = "year", list(_calendar(start, end, "year", 1000))
    ticks = []
    for moment in moments:
        us = int(moment.timestamp() * 1_000_000)
        major = {
            "year": True,
            "month": moment.month == 1,
            "day": moment.day == 1,
            "hour": moment.hour == 0,
        }[unit]
        label = moment.strftime(fmt) if unit != "month" or moment.month == 1 else MONTHS[moment.month - 1]
        ticks.append(Tick(scale.x(us), label, major))
    if unit == "month" and ticks and ticks[0].label in MONTHS:
        _year_on_first(ticks, moments[0].year)
    return ticks


def _year_on_first(ticks: list[Tick], year: int) -> None:
    """The first month tick names its year too ("Feb 2019"), so a span without a January
    still says which year it is; the next tick's label gives way where they would touch."""
    ticks[0].label = f"{ticks[0].label} {year}"
    if len(ticks) > 1:
        room = (text_width(ticks[0].label, 11) + text_width(ticks[1].label, 11)) / 2 + 6
        if ticks[1].x - ticks[0].x < room:
            ticks[1].label = ""


def _calendar(start: datetime, end: datetime, unit: str, n: int) -> Iterable[datetime]:
    """Every ``n``-th calendar boundary of ``unit`` in ``[start, end]``."""
    if unit in ("year", "month"):
        months = 12 * n if unit == "year" else n
        index = start.year * 12 + start.month - 1
        if (start.day, start.hour, start.minute, start.second, start.microsecond) != (1, 0, 0, 0, 0):
            index += 1
        index += (-index) % months
        while (moment := datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)) <= end:
            yield moment
            index += months
        return
    hours = 24 * n if unit == "day" else n
    moment = start.replace(minute=0, second=0, microsecond=0)
    if moment < start:
        moment += timedelta(hours=1)
    while moment.hour % (24 if unit == "day" else n):
        moment += timedelta(hours=1)
    while moment <= end:
        yield moment
        moment += timedelta(hours=hours)
