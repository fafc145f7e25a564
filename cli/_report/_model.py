"""The layout the template draws: lanes of bars, marks and texts, the axis's ticks, in the
SVG's plain numbers (``_geometry``)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Text:
    x: float
    y: float
    text: str
    cls: str = "label"
    anchor: str = "start"
    title: str | None = None


@dataclass
class Bar:
    x: float
    y: float
    w: float
    h: float
    colour: str
    cls: str  # span kind: por, channel, relationship, invitation, dap, gdap
    title: str
    data: dict[str, str] = field(default_factory=dict)


@dataclass
class Mark:
    kind: str  # purchase, migration, switch, cancellation, revoked, removed, expired, term-end, continues
    x: float
    y: float  # the bar's centre line
    title: str
    at: str


@dataclass
class Lane:
    kind: str  # subscription, partner, note
    key: str
    y: float
    height: float
    labels: list[Text] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)
    colour: str | None = None


@dataclass
class Tick:
    x: float
    label: str
    major: bool


@dataclass
class Part:
    """One of the timeline's figures (subscriptions, partners), from ``y0`` (its section's
    title) to ``y1`` (its last lane), under an axis of its own, so that each can go to a page
    of its own in print and neither is cut between pages; with ``bottom_axis`` the axis is
    repeated below (a long part)."""

    key: str
    y0: float
    y1: float
    bottom_axis: bool

    def view_top(self, axis_h: float) -> float:
        return self.y0 - axis_h

    def view_height(self, axis_h: float) -> float:
        return self.y1 - self.y0 + axis_h + (axis_h if self.bottom_axis else 8)


@dataclass
class Chart:
    width: int
    height: float
    top: float  # where the lanes start (below the axis)
    bottom: float  # where they end
    ticks: list[Tick]
    lanes: list[Lane]
    sections: list[Text]
    as_of_label: str
    x0: float
    x1: float
    parts: list[Part]
