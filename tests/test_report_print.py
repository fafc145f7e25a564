"""The auditor report on paper and at a glance: printed to PDF by headless Chromium on A4 and
Letter (landscape pages within bounds, the chain head on every page, no heading left at a
page's bottom, nothing past the right margin, no word broken mid-word, a legible timeline),
laid out for print without horizontal overflow; twelve partners in twelve colours that stand
out; the timeline's axis in months where the span is short; lane labels wrapped, not cut."""

from __future__ import annotations

import itertools
import math
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pdfminer.high_level import extract_pages
from pdfminer.layout import LAParams, LTChar, LTPage, LTTextLine

from cli._report._axis import axis_ticks
from cli._report._colours import PALETTE, partner_colours
from cli._report._geometry import Scale
from ledger import Event, Ledger

from browser import A4, LETTER, BrowserError, Chromium
from builders import accept, customer, partner, purchase, request
from clitools import run_json

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = (ROOT / "cli" / "templates" / "report.html.j2").read_text(encoding="utf-8")
PT_PER_MM = 72 / 25.4
PAPERS = {"A4": A4, "Letter": LETTER}


# --- colours -----------------------------------------------------------------------------------


def _luminance(colour: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(int(colour[i : i + 2], 16) / 255) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG's contrast ratio of two colours."""
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def lab(colour: str) -> tuple[float, float, float]:
    """CIELAB (D65) of an sRGB colour."""

    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(int(colour[i : i + 2], 16) / 255) for i in (1, 3, 5))
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def _backgrounds() -> list[str]:
    """The page's background and the lanes' alternate grey, as the template has them."""
    lanes = re.search(r"\.lane:nth-of-type\(even\) \.lane-bg \{ fill: (#[0-9a-f]{6}); \}", TEMPLATE)
    page = re.search(r"body \{[^}]*background: (#[0-9a-f]{3,6});", TEMPLATE)
    assert lanes and page
    white = page.group(1) if len(page.group(1)) == 7 else "#" + "".join(c * 2 for c in page.group(1)[1:])
    return [white, lanes.group(1)]


def test_twelve_partners_get_twelve_colours_that_stand_out() -> None:
    ids = [f"partner-{i}" for i in range(12)]
    colours = partner_colours(ids)
    assert sorted(colours) == sorted(ids) and len(set(colours.values())) == 12
    for colour in colours.values():
        for background in _backgrounds():
            assert contrast(colour, background) >= 3.0, (colour, background)  # WCAG, for graphics
    for a, b in itertools.combinations(colours.values(), 2):
        assert math.dist(lab(a), lab(b)) >= 20, (a, b)  # clearly different colours, not shades


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12), unique=True, max_size=20
    )
)
def test_partners_of_one_report_share_a_colour_only_past_twelve(ids: list[str]) -> None:
    colours = partner_colours(ids)
    assert len(set(colours.values())) == min(len(ids), len(PALETTE))
    assert partner_colours(reversed(ids)) == colours  # the same partners, the same colours
    for pid in ids:  # a partner alone has its own colour, the same in every report
        assert partner_colours([pid]) == partner_colours([pid, pid])


# --- the axis ------------------------------------------------------------------------------------


def _labels(start: datetime, days: int) -> list[str]:
    us = int(start.timestamp() * 1_000_000)
    return [t.label for t in axis_ticks(Scale(us, us + days * 86_400_000_000)) if t.label]


def test_the_axis_has_months_where_the_span_is_short() -> None:
    start = datetime(2019, 2, 10, tzinfo=UTC)
    assert _labels(start, 200)[:3] == ["Mar 2019", "Apr", "May"]  # no January: the year on the first
    two_years = _labels(start, 730)
    assert "2020" in two_years and "2021" in two_years
    assert {"Apr", "Jul", "Oct"} <= set(two_years)
    assert _labels(start, 20)[0] == "2019-02-10"  # days
    ten_years = _labels(start, 3650)
    assert all(re.fullmatch(r"\d{4}", label) for label in ten_years) and len(ten_years) >= 5


# --- the printed page --------------------------------------------------------------------------


@dataclass
class Printed:
    """One page of a printed report: its size, text lines (top down) and characters."""

    width: float
    height: float
    lines: list[tuple[float, float, float, str]]  # x0, y0 (from the bottom), x1, text
    sizes: list[float]

    @property
    def text(self) -> str:
        return "\n".join(line[3] for line in self.lines)


def printed(pdf: bytes) -> list[Printed]:
    out = []
    for page in extract_pages(BytesIO(pdf), laparams=LAParams()):
        assert isinstance(page, LTPage)
        lines: list[tuple[float, float, float, str]] = []
        sizes: list[float] = []
        stack: list[object] = [page]
        while stack:
            item = stack.pop()
            if isinstance(item, LTTextLine):
                text = unicodedata.normalize("NFKC", item.get_text()).strip()  # ligatures: "ﬁ" is "fi"
                if text:
                    lines.append((item.x0, item.y0, item.x1, text))
                sizes += [c.size for c in item if isinstance(c, LTChar) and c.get_text().strip()]
            elif hasattr(item, "__iter__"):
                stack.extend(item)
        lines.sort(key=lambda line: (-line[1], line[0]))
        out.append(Printed(page.width, page.height, lines, sizes))
    return out


# The page's margins, as its @page rule sets them (top, sides, bottom), in points.
MARGINS = re.search(r"@page \{\s*size: landscape;\s*margin: (\d+)mm (\d+)mm (\d+)mm;", TEMPLATE)
assert MARGINS, "the print style sheet's @page rule"
SIDE, BOTTOM = int(MARGINS.group(2)) * PT_PER_MM, int(MARGINS.group(3)) * PT_PER_MM


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    try:
        chromium = Chromium(1280, 900)
    except BrowserError as exc:  # never a skip: the suite needs the browser (./test.sh installs it)
        pytest.fail(str(exc))
    with chromium:
        yield chromium


def many_partners(count: int = 12) -> list[Event]:
    """A customer with ``count`` partners, each with a reseller relationship and an Azure
    subscription, some with long ids and names (a GUID, a long offer)."""
    ids = [f"partner-{i:02d}" for i in range(count)]
    events: list[Event] = [partner(p, at="2018-01-01T00:00:00Z") for p in ids]
    events.append(customer("manyco", at="2023-01-01T00:00:00Z"))
    start = datetime(2023, 1, 2, tzinfo=UTC)
    for i, p in enumerate(ids):
        at = (start + timedelta(days=20 * i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        events += [request(f"req-{p}", p, "manyco", at=at), accept(f"req-{p}", "manyco", at=at)]
        sid = f"4f1c2a9e-1234-4bcd-9f00-0123456789{i:02d}" if i % 3 == 0 else f"azure-{p}"
        events.append(purchase(sid, "manyco", at=at, seller=p))
    return events


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    """Reports to print, each with its chain head: the demo's contoso (now), tailspin as of a
    day with findings, and a customer with twelve partners."""
    folder = tmp_path_factory.mktemp("print")
    db = f"sqlite:///{folder / 'ledger.db'}"
    run_json("--db", db, "demo")
    with Ledger(db) as ledger:
        ledger.record_many([(0, e) for e in many_partners()])
    out = {}
    for name, cid, extra in (
        ("contoso", "contoso", ()),
        ("tailspin", "tailspin", ("--as-of", "2024-01-15")),
        ("manyco", "manyco", ()),
    ):
        target = folder / f"{name}.html"
        answer = run_json("--db", db, "report", cid, "--out", str(target), *extra)
        out[name] = (target, answer["head"])
    return out


# Pages each report prints to: its header and findings, its timeline, its events (about
# twelve to a page); a layout that lost its print style sheet (portrait, a table cut thin)
# prints to many more, one that dropped content to fewer.
BOUNDS = {"contoso": (5, 8), "tailspin": (3, 6), "manyco": (7, 11)}


@pytest.mark.parametrize("paper", sorted(PAPERS))
@pytest.mark.parametrize("name", sorted(BOUNDS))
def test_the_report_prints(
    browser: Chromium, reports: dict[str, tuple[Path, str]], name: str, paper: str
) -> None:
    path, head = reports[name]
    page = browser.open(path)
    headings = page.evaluate("[...document.querySelectorAll('h1, h2, h3')].map(h => h.textContent.trim())")
    words = set(re.findall(r"[A-Za-z]+", page.evaluate("document.body.innerText")))
    pages = printed(page.pdf(PAPERS[paper]))
    page.close()

    low, high = BOUNDS[name]
    assert low <= len(pages) <= high, len(pages)
    width, height = (dimension * 72 for dimension in PAPERS[paper])
    for number, p in enumerate(pages, 1):
        assert abs(p.width - height) < 1.5 and abs(p.height - width) < 1.5  # landscape
        # The chain head and the page number in every page's footer.
        footer = [text for x0, y0, x1, text in p.lines if y0 < BOTTOM]
        assert any(head[:40] in text for text in footer), (number, footer)
        assert f"page {number} of {len(pages)}" in footer
        # No text past the side margins.
        assert all(x0 >= SIDE - 1 and x1 <= p.width - SIDE + 1 for x0, _, x1, _ in p.lines), number
        # No heading the last thing on a page: it goes with what follows it.
        content = [line for line in p.lines if line[1] >= BOTTOM]
        if number < len(pages):
            assert content[-1][3] not in headings, (number, content[-1][3])
        # Legible: nothing printed smaller than 6 points.
        assert min(p.sizes) >= 6.0, (number, min(p.sizes))
        # No word broken mid-word: every word printed is one of the page's own.
        broken = {w for w in re.findall(r"[A-Za-z]+", p.text) if w not in words}
        assert not broken, (number, broken)
    text = "\n".join(p.text for p in pages)
    for heading in headings:
        assert heading in text


def test_the_print_checks_are_not_vacuous(browser: Chromium, tmp_path: Path) -> None:
    """The checks above catch what they look for: a heading forced to a page's bottom, a word
    broken mid-word and text past the margin are seen in the PDF of a page made to have them."""
    filler = "<p>words to fill the page</p>" * 38
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><html><head><style>@page { size: landscape; margin: 12mm 11mm 15mm; }"
        "p { margin: 0 0 2px; } .narrow { width: 30px; overflow-wrap: anywhere; }"
        ".wide { white-space: nowrap; width: 3000px; }</style></head><body>"
        f"{filler}<h2>Orphaned heading</h2><p style='break-before: page'>next page</p>"
        "<p class='narrow'>Agreement</p><p class='wide'>" + "wide " * 400 + "</p></body></html>"
    )
    page = browser.open(bad)
    pages = printed(page.pdf(A4))
    page.close()
    first = [line for line in pages[0].lines if line[1] >= BOTTOM]
    assert first[-1][3] == "Orphaned heading"
    second = pages[1]
    assert {"Agreement"} - set(re.findall(r"[A-Za-z]+", second.text))  # cut into pieces
    assert any(x1 > second.width - SIDE + 1 for _, _, x1, _ in second.lines)


@pytest.mark.parametrize("paper", sorted(PAPERS))
def test_no_horizontal_overflow_at_the_print_width(
    browser: Chromium, reports: dict[str, tuple[Path, str]], paper: str
) -> None:
    """Laid out for print at the page's width (landscape, less its margins), nothing is wider
    than the page."""
    long_side = max(PAPERS[paper]) * 96
    width = int(long_side - 2 * SIDE / 72 * 96)
    for path, _ in reports.values():
        page = browser.open(path)
        page.emulate_print(width)
        sizes = page.evaluate(
            "({client: document.documentElement.clientWidth, scroll: document.documentElement.scrollWidth,"
            " media: matchMedia('print').matches})"
        )
        # No word hyphenated by the browser; only ids (codes, hashes) broken anywhere.
        breaking = page.evaluate(
            """(() => { const all = [...document.querySelectorAll('body *')];
            return {hyphenated: all.filter(e => getComputedStyle(e).hyphens !== 'manual').length,
                    anywhere: [...new Set(all.filter(e => getComputedStyle(e).overflowWrap === 'anywhere'
                        && !e.closest('code, .hash, .id, .mono')).map(e => e.tagName))]}; })()"""
        )
        page.close()
        assert sizes["media"] and sizes["client"] == width
        assert sizes["scroll"] <= sizes["client"], (path.name, sizes)
        assert breaking == {"hyphenated": 0, "anywhere": []}, (path.name, breaking)


def test_twelve_partners_in_the_page(browser: Chromium, reports: dict[str, tuple[Path, str]]) -> None:
    """Twelve partners, twelve colours: in the legend, their lanes and their spans; and the
    lane titles wrapped to the gutter rather than cut."""
    page = browser.open(reports["manyco"][0])
    shown = page.evaluate(
        """(() => { const GUTTER = 'svg.timeline .lane-title, svg.timeline .lane-detail'; return {
      legend: [...document.querySelectorAll('#legend li.partner')].map(li => li.dataset.colour),
      lanes: Object.fromEntries([...document.querySelectorAll('svg.timeline .lane.partner')]
        .map(g => [g.dataset.key, g.dataset.colour])),
      gutter: [...document.querySelectorAll(GUTTER)].map(t => t.textContent),
      gutterRight: Math.max(...[...document.querySelectorAll(GUTTER)]
        .map(t => t.getBBox().x + t.getBBox().width)),
    }; })()"""
    )
    page.close()
    assert len(shown["legend"]) == 12 and len(set(shown["legend"])) == 12
    assert len(shown["lanes"]) == 12 and set(shown["lanes"].values()) == set(shown["legend"])
    assert not [t for t in shown["gutter"] if "…" in t]
    assert "4f1c2a9e-1234-4bcd-9f00-" in shown["gutter"]  # a GUID wrapped after a hyphen
    assert shown["gutterRight"] <= 236  # within the gutter (cli/_report/_geometry.GUTTER)


def test_the_demo_report_keeps_enterprise_agreement_whole(
    browser: Chromium, reports: dict[str, tuple[Path, str]]
) -> None:
    page = browser.open(reports["contoso"][0])
    details = page.evaluate(
        '[...document.querySelectorAll(\'svg.timeline .lane-content.subscription[data-key="azure-ea-1"]'
        " .lane-detail')].map(t => t.textContent).join(' ')"
    )
    page.close()
    assert details == "Azure (EA) · usage · Enterprise Agreement"
