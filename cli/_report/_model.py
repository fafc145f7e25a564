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
    bottom_axis: bool
