"""The SVG's geometry: its coordinates, where a moment falls (``Scale``), labels fitted to the
room they have and never overlapping, and marks thinned where two would touch."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from projections import format_us

from ._model import Mark, Text

# The SVG's coordinate system (it scales down to the page width, never overflows it).
WIDTH = 1160
GUTTER = 236  # lane labels
X0 = GUTTER + 14  # the customer's first event
X1 = WIDTH - 30  # as of
ROW = 30
BAR_Y = 15  # a bar's top within its row
BAR_H = 12
THIN_H = 6  # reseller relationships
LABEL_Y = 11  # a label's baseline within its row
LABEL_SIZE = 10.5
NOTE_ROW = 20
AXIS_H = 40
SECTION_H = 26
CHAR_EM = 0.62  # a generous average glyph width, in ems, for sans-serif text


def text_width(text: str, size: float) -> float:
    return len(text) * size * CHAR_EM


def fit(text: str, room: float, size: float = LABEL_SIZE) -> str:
    """``text``, shortened with an ellipsis to fit ``room`` pixels ('' when hardly anything fits)."""
    if text_width(text, size) <= room + 0.01:
        return text
    chars = int(room / (size * CHAR_EM)) - 1
    return text[:chars].rstrip() + "…" if chars >= 4 else ""


def wrap(text: str, room: float, size: float, most: int) -> list[str]:
    """``text`` in lines that fit ``room`` pixels, at most ``most`` of them (the last shortened
    with an ellipsis only when even they do not hold it all): broken between its " · " parts,
    then, in a part longer than a line, between words, and only a word longer than a line (an
    id) after a hyphen or, failing that, anywhere."""
    per_line = max(int(room / (size * CHAR_EM)), 4)
    lines: list[str] = []
    parts = text.split(" · ")
    for i, part in enumerate(parts):
        part += " · " if i + 1 < len(parts) else ""
        if lines and len(lines[-1]) + len(part.rstrip()) <= per_line:
            lines[-1] += part
        elif len(part.rstrip()) <= per_line:
            lines.append(part)
        else:
            lines += _words(part, per_line, lines)
    lines = [line.rstrip() for line in lines]
    if len(lines) > most:
        rest = " ".join(lines[most - 1 :])
        lines = [*lines[: most - 1], fit(rest, room, size)]
    return lines


def _words(part: str, per_line: int, lines: list[str]) -> list[str]:
    """A part too long for a line, in lines broken between words (the first may join the
    last line so far, which it then replaces); a word longer than a line after a hyphen, or
    anywhere."""
    out = [lines.pop()] if lines else []
    for word in re.findall(r"[^ ]+ *", part):
        while len(word.rstrip()) > per_line:
            hyphen = word.rfind("-", 0, per_line)
            cut = hyphen + 1 if hyphen > 0 else per_line
            out.append(word[:cut])
            word = word[cut:]
        if out and len(out[-1]) + len(word.rstrip()) <= per_line:
            out[-1] += word
        else:
            out.append(word)
    return out


TITLE_SIZE, DETAIL_SIZE = 12, 10  # a lane's title (its subscription or partner) and detail


def titles(x: float, y: float, title: str, detail: str, room: float) -> tuple[list[Text], float]:
    """A lane's title and detail in the gutter, wrapped to ``room`` (never cut short but past
    two lines of title and three of detail), and the height they need (``ROW`` when each
    fits one line)."""
    out = [
        Text(x, y + 13 + 14 * i, line, "lane-title", title=title)
        for i, line in enumerate(wrap(title, room, TITLE_SIZE, 2))
    ]
    top = out[-1].y + 13
    out += [
        Text(x, top + 12 * i, line, "lane-detail", title=detail)
        for i, line in enumerate(wrap(detail, room, DETAIL_SIZE, 3))
    ]
    return out, max(out[-1].y - y + 4, ROW)


def day(us: int | None) -> str:
    return "" if us is None else format_us(us)[:10]


LABEL_GAP = 8  # between a label and the next label or bar in its row
RIGHT = WIDTH - 4  # labels end by here


def label_extent(x_start: float, text: str) -> tuple[float, float]:
    """Where a label would go, preferring its span's start and moving left to end by ``RIGHT``."""
    width = text_width(text, LABEL_SIZE)
    left = max(min(x_start, RIGHT - width), X0 - 4)
    return left, left + width


def place_labels(spans: Sequence[tuple[float, float, str]], overhang: bool) -> list[tuple[float, str]]:
    """Labels for the spans of one row, in time order, that never overlap: each starts at its
    span (or as far left as it must, to fit before the page's edge), ends before the next span
    starts, and is shortened to the room it has; without ``overhang`` it stays over its own span.
    Returns (x, shown text), shown text '' where no label fits."""
    out: list[tuple[float, str]] = []
    left = X0 - 4.0
    for i, (x_start, x_end, text) in enumerate(spans):
        right = spans[i + 1][0] - 6 if i + 1 < len(spans) else RIGHT
        if overhang:
            x = max(label_extent(x_start, text)[0], left)
        else:
            x, right = max(x_start, left), min(right, x_end)
        shown = fit(text, right - x)
        out.append((x, shown))
        if shown:
            left = x + text_width(shown, LABEL_SIZE) + LABEL_GAP
    return out


@dataclass
class Scale:
    start: int
    end: int

    def x(self, us: int) -> float:
        clamped = min(max(us, self.start), self.end)
        return round(X0 + (clamped - self.start) / (self.end - self.start) * (X1 - X0), 2)


# Where two marks of one row would touch, the more telling one is drawn (the span's tooltip
# and the events table still have both).
MARK_PRIORITY = {
    "cancellation": 0,
    "revoked": 0,
    "removed": 0,
    "expired": 0,
    "switch": 1,
    "migration": 2,
    "purchase": 3,
    "term-end": 4,
    "continues": 5,
}
MARK_GAP = 12.0


def thin_marks(marks: list[Mark]) -> list[Mark]:
    """The marks that do not touch a more telling one in the same row, in drawing order."""
    kept: list[Mark] = []
    for mark in sorted(marks, key=lambda m: (MARK_PRIORITY[m.kind], m.x)):
        if all(k.y != mark.y or abs(k.x - mark.x) >= MARK_GAP for k in kept):
            kept.append(mark)
    return sorted(kept, key=lambda m: (m.y, m.x))
