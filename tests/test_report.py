"""The auditor report, ``ledger report CUSTOMER --out FILE.html``: the timeline query on both
stores, the command's answers, and the page itself in headless Chromium (one browser for the
module): the lanes, spans and marks the demo history must show, nothing wider than the window
or overlapping, an event note with ``<script>`` shown as text, no network request, and a
timeline that stays legible for a customer with one event and one with 2,000."""

from __future__ import annotations

import re
import struct
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cli import _demo as demo
from ledger import Event, Ledger, NotFound, parse_event, read
from ledger._time import parse_time
from projections._time import to_us

import rawdb
from browser import BrowserError, Chromium, Page
from builders import (
    accept,
    cancel,
    customer,
    gdap_request,
    grant,
    partner,
    purchase,
    raw,
    request,
    revoke,
    switch,
)
from clitools import run, run_json

ROOT = Path(__file__).resolve().parent.parent
WIDTH = 1280


def _us(text: str) -> int:
    return to_us(parse_time(text, "t"))


# --- the timeline query, on both stores --------------------------------------------------


def test_the_demo_timeline(ledger: Ledger) -> None:
    demo.load(ledger)
    t = read.timeline(ledger, "contoso")
    subs = {s.subscription_id: s for s in t.subscriptions}
    assert list(subs) == ["azure-ea-1", "pbi-1", "o365-1", "azure-csp-1", "o365-2"]
    por = {sid: [(p.partner_of_record, p.billing_partner) for p in s.periods] for sid, s in subs.items()}
    assert por == {
        "azure-ea-1": [(None, None)],
        "pbi-1": [(None, None)],
        "o365-1": [("fabrikam", "fabrikam")],
        "azure-csp-1": [("fabrikam", "fabrikam"), ("northwind", "northwind")],
        "o365-2": [("litware", "adatum")],
    }
    csp = subs["azure-csp-1"]
    assert (csp.migrated_from, csp.periods[0].end, csp.periods[1].start, csp.periods[1].end) == (
        "azure-ea-1",
        _us("2020-02-01T00:00:00Z"),
        _us("2020-02-01T00:00:00Z"),
        None,
    )
    assert subs["azure-ea-1"].cancelled_at == subs["azure-ea-1"].periods[0].end == _us("2019-04-15T00:00:00Z")
    assert subs["o365-1"].cancelled_at == _us("2020-03-01T00:00:00Z")
    assert [(r.partner_id, r.reseller_id) for r in t.relationships] == [
        ("fabrikam", None),
        ("adatum", "litware"),
        ("northwind", None),
    ]
    assert [(d.delegation_id, d.end) for d in t.delegations] == [
        ("dap-fab-1", "revoked"),
        ("gdap-lit-1", "expired"),
        ("gdap-nw-1", "expired"),
        ("gdap-nw-2", None),
    ]
    assert t.first_event_at == _us("2019-01-10T00:00:00Z")
    assert {p: i.name for p, i in t.partners.items()} == {
        "fabrikam": "Fabrikam",
        "northwind": "Northwind Traders",
        "adatum": "Adatum Distribution",
        "litware": "Litware",
    }

    # As of the end of 2019: the switch, the cancellation and the expiry had not happened yet.
    then = read.timeline(ledger, "contoso", as_of=_us("2019-12-31T00:00:00Z"))
    subs = {s.subscription_id: s for s in then.subscriptions}
    assert "o365-2" not in subs
    assert [(p.partner_of_record, p.end) for p in subs["azure-csp-1"].periods] == [("fabrikam", None)]
    assert subs["o365-1"].cancelled_at is None
    assert [(d.delegation_id, d.ended_at) for d in then.delegations] == [
        ("dap-fab-1", None),
        ("gdap-lit-1", None),
    ]
    assert [r.partner_id for r in then.relationships] == ["fabrikam", "adatum"]

    with pytest.raises(NotFound):
        read.timeline(ledger, "contoso", known_at=_us("2020-01-01T00:00:00Z"))  # recorded today
    with pytest.raises(NotFound):
        read.timeline(ledger, "nobody")
    with pytest.raises(NotFound):
        read.timeline(ledger, "contoso", as_of=_us("2019-01-09T00:00:00Z"))  # before it registered


def test_the_timeline_of_a_gdap_lifecycle(ledger: Ledger) -> None:
    """Tailspin's GDAPs in the report's timeline: an extended GDAP ends at its last expiry
    (expired, not revoked), a request not approved is pending, then lapsed; an approved one
    is its GDAP's bar."""
    demo.load(ledger)
    spring = read.timeline(ledger, "tailspin", as_of=_us("2024-04-01T00:00:00Z"))
    assert [(g.delegation_id, g.end) for g in spring.gdap_requests] == [
        ("gdap-tt-1", "approved"),
        ("gdap-tt-2", "approved"),
        ("gdap-tt-3", None),
    ]
    assert [(d.delegation_id, d.expires_at, d.end) for d in spring.delegations] == [
        ("gdap-tt-1", _us("2024-08-01T00:00:00Z"), None),
        ("gdap-tt-2", _us("2024-01-31T00:00:00Z"), "expired"),
    ]
    autumn = read.timeline(ledger, "tailspin", as_of=_us("2024-09-01T00:00:00Z"))
    lapsed = [g for g in autumn.gdap_requests if g.delegation_id == "gdap-tt-3"]
    assert [(g.end, g.ended_at) for g in lapsed] == [("lapsed", _us("2024-05-30T00:00:00Z"))]
    first = autumn.delegations[0]
    assert (first.delegation_id, first.ended_at, first.end) == (
        "gdap-tt-1",
        _us("2024-08-01T00:00:00Z"),
        "expired",
    )


def test_known_at_hides_a_later_recording(ledger: Ledger) -> None:
    ledger.record_many(
        [(0, e) for e in (partner("fabrikam"), customer("contoso"), purchase("azure-1", "contoso"))]
    )
    between = to_us(datetime.now(UTC))
    time.sleep(0.01)
    ledger.record(cancel("azure-1", at="2019-06-01T00:00:00Z"))
    before = read.timeline(ledger, "contoso", known_at=between)
    after = read.timeline(ledger, "contoso")
    assert [s.cancelled_at for s in before.subscriptions] == [None]
    assert [s.cancelled_at for s in after.subscriptions] == [_us("2019-06-01T00:00:00Z")]


# --- the command ---------------------------------------------------------------------------


@pytest.fixture
def demo_url(url: str) -> str:
    run_json("--db", url, "demo")
    return url


def test_report_command_answers(demo_url: str, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    target = tmp_path / "out" / "r.html"
    answer = run_json("--db", demo_url, "report", "contoso", "--out", str(target))
    assert answer["report"] == str(target) and answer["events"] == 24 and answer["verified"] == 61
    with Ledger(demo_url) as ledger:
        assert answer["head"] == ledger.head_hash()
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and answer["head"] in page
    assert [p.name for p in target.parent.iterdir()] == ["r.html"]  # written whole: no partial file left
    plain = run("--db", demo_url, "report", "fourthcoffee", "--out", str(tmp_path / "fc.html"))
    assert plain.returncode == 0 and b"verify passed" in plain.stdout

    everything = run_json("--db", demo_url, "history")["events"]
    cut = _us(everything[19]["recorded_at"])
    known = max(e["position"] for e in everything if _us(e["recorded_at"]) <= cut)
    earlier = target.with_name("known.html")
    answer = run_json(
        "--db",
        demo_url,
        "report",
        "contoso",
        "--out",
        str(earlier),
        "--known-at",
        everything[19]["recorded_at"],
    )
    contoso = [e for e in everything if e["position"] <= known and e["data"].get("customer_id") == "contoso"]
    assert answer["events"] < 20 and f"up to position {known}</dd>" in earlier.read_text(encoding="utf-8")
    assert len(contoso) <= answer["events"]

    missing = run_json("--db", demo_url, "report", "nobody", "--out", str(tmp_path / "x.html"), expect=1)
    assert missing["error"]["code"] == "not-found"
    early = ("--known-at", "2020-01-01T00:00:00Z")  # the demo was recorded today
    assert run_json(
        "--db", demo_url, "report", "contoso", "--out", str(tmp_path / "x.html"), *early, expect=1
    )
    folder = run_json(
        "--db", demo_url, "report", "contoso", "--out", str(tmp_path / "no" / "r.html"), expect=2
    )
    assert folder["error"]["code"] == "bad-input" and "--out" in folder["error"]["message"]
    bad_time = run_json(
        "--db", demo_url, "report", "contoso", "--out", str(target), "--as-of", "soon", expect=2
    )
    assert "--as-of" in bad_time["error"]["message"]
    assert run("--db", demo_url, "report", "contoso").returncode == 2  # --out is required
    assert not (tmp_path / "x.html").exists()


def test_a_failed_verification_is_in_the_report_and_exit_4(demo_url: str, tmp_path: Path) -> None:
    rawdb.execute(
        demo_url,
        "UPDATE prj_subscriptions SET partner_of_record = 'mallory' WHERE partner_of_record = 'litware'",
    )
    target = tmp_path / "r.html"
    error = run_json("--db", demo_url, "report", "contoso", "--out", str(target), expect=4)["error"]
    assert error["code"] == "integrity" and str(target) in error["message"]
    page = target.read_text(encoding="utf-8")
    assert "FAILED" in page and "does not match a rebuild" in page and "passed" not in page


def test_the_page_is_self_contained(reports: dict[str, Path]) -> None:
    page = reports["contoso"].read_text(encoding="utf-8")
    assert (
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">" in page
    )
    assert "<script" not in page.lower()
    for tag in ("<link", "<img", "<iframe", "<object", "<embed", "@import", "@font-face"):
        assert tag not in page.lower(), tag
    fetches = re.findall(
        r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?\s*(?:https?:)?//""", page
    )
    assert fetches == []


# --- in the browser ------------------------------------------------------------------------

# Geometry of the rendered page: what sticks out of the window, and what overlaps in the timeline.
LAYOUT = """(() => {
  const width = document.documentElement.clientWidth;
  const box = e => e.getBoundingClientRect();
  const seen = e => { const r = box(e); return r.width > 0 || r.height > 0; };
  const name = e => `${e.tagName}.${e.getAttribute('class') || ''} ${(e.textContent || '').slice(0, 40)}`;
  const overlap = (a, b) => a.left < b.right - 0.5 && b.left < a.right - 0.5
    && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;
  const pairs = sel => {
    const items = [...document.querySelectorAll(sel)].filter(seen).map(e => [e, box(e)]);
    const hits = [];
    for (let i = 0; i < items.length; i++)
      for (let j = i + 1; j < items.length; j++)
        if (overlap(items[i][1], items[j][1])) hits.push([name(items[i][0]), name(items[j][0])]);
    return hits;
  };
  const lanes = [...document.querySelectorAll('svg.timeline .lane-bg')].map(box)
    .sort((a, b) => a.top - b.top);
  const svg = box(document.querySelector('#timeline-figure'));
  return {
    width,
    scrollWidth: document.documentElement.scrollWidth,
    svgRight: svg.right,
    outside: [...document.body.querySelectorAll('*')].filter(seen)
      .filter(e => box(e).right > width + 0.5 || box(e).left < -0.5).map(name),
    textOverlaps: pairs('svg.timeline text'),
    markOverlaps: pairs('svg.timeline .mark'),
    laneOverlaps: lanes.slice(1).filter((r, i) => r.top < lanes[i].bottom - 0.5).length,
    lanes: lanes.length,
  };
})()"""

# What the timeline shows: lanes with their spans and marks, the legend, the header, the table.
CONTENT = """(() => {
  const data = e => Object.assign({}, e.dataset);
  const lanes = [...document.querySelectorAll('svg.timeline .lane-content')].map(g => ({
    kind: ['subscription', 'partner', 'note'].find(c => g.classList.contains(c)),
    key: g.dataset.key,
    spans: [...g.querySelectorAll('.span')].map(s => ({
      kind: [...s.classList].find(c => c !== 'span'), ...data(s),
      fill: s.querySelector('rect').getAttribute('fill') })),
    marks: [...g.querySelectorAll('.mark')].map(m => [...m.classList].find(c => c !== 'mark')),
    text: g.textContent.replace(/\\s+/g, ' ').trim(),
  }));
  return {
    title: document.title,
    lanes,
    legend: [...document.querySelectorAll('#legend li.partner')].map(data),
    laneColours: Object.fromEntries([...document.querySelectorAll('svg.timeline .lane.partner')]
      .map(g => [g.dataset.key, g.dataset.colour])),
    ticks: [...document.querySelectorAll('svg.timeline .tick text')].map(t => t.textContent),
    header: Object.fromEntries(
      ['customer', 'cloud', 'period', 'known-at', 'event-count', 'head', 'verification']
        .map(id => [id, document.getElementById(id).textContent.replace(/\\s+/g, ' ').trim()])),
    rows: [...document.querySelectorAll('#events tbody tr')]
      .map(tr => [...tr.cells].map(td => td.textContent)),
    scripts: document.querySelectorAll('script').length,
    images: document.querySelectorAll('img, iframe, object, embed, link').length,
  };
})()"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    try:
        chromium = Chromium(WIDTH, 900)
    except BrowserError as exc:  # never a skip: the suite needs the browser (./test.sh installs it)
        pytest.fail(str(exc))
    with chromium:
        yield chromium


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _demo_reports(tmp_path_factory.mktemp("reports"))


def _demo_reports(folder: Path) -> dict[str, Path]:
    """``ledger demo`` into a fresh SQLite ledger, and a report of each demo customer."""
    db = f"sqlite:///{folder / 'ledger.db'}"
    run_json("--db", db, "demo")
    out = {}
    for cid in demo.CUSTOMERS:
        out[cid] = folder / f"{cid}.html"
        run_json("--db", db, "report", cid, "--out", str(out[cid]))
    out["db"] = folder / "ledger.db"
    return out


def _load(browser: Chromium, path: Path) -> tuple[Page, dict[str, Any], dict[str, Any]]:
    """The page, what it shows and its geometry; it must fetch nothing and fit the window."""
    page = browser.open(path)
    assert page.requests() == [page.url], "the page fetched something besides itself"
    layout = page.evaluate(LAYOUT)
    assert layout["width"] == WIDTH and layout["scrollWidth"] <= WIDTH
    assert layout["outside"] == [], "elements outside the window's width"
    assert layout["svgRight"] <= WIDTH
    assert layout["textOverlaps"] == [], "overlapping labels"
    assert layout["markOverlaps"] == [], "overlapping marks"
    assert layout["laneOverlaps"] == 0
    content = page.evaluate(CONTENT)
    assert content["scripts"] == 0 and content["images"] == 0
    return page, content, layout


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_demo_report_of_contoso_in_chromium(
    browser: Chromium, reports: dict[str, Path], tmp_path: Path
) -> None:
    page, shown, _ = _load(browser, reports["contoso"])
    shot = page.screenshot(tmp_path / "contoso.png")
    width, height = _png_size(shot)
    assert width == WIDTH and height > 900 and len(shot) > 50_000
    page.close()

    lanes = {(lane["kind"], lane["key"]): lane for lane in shown["lanes"]}
    subs = [key for kind, key in lanes if kind == "subscription"]
    assert subs == ["azure-ea-1", "pbi-1", "o365-1", "azure-csp-1", "o365-2"]
    assert [key for kind, key in lanes if kind == "partner"] == ["fabrikam", "adatum", "litware", "northwind"]

    def spans(kind: str, key: str) -> list[tuple[str, ...]]:
        return [
            (s["kind"], s.get("partner", ""), s.get("channel") or s.get("delegation") or s.get("request", ""))
            for s in lanes[(kind, key)]["spans"]
        ]

    def marks(kind: str, key: str) -> list[str]:
        return lanes[(kind, key)]["marks"]

    assert spans("subscription", "azure-csp-1") == [("por", "fabrikam", "csp"), ("por", "northwind", "csp")]
    assert marks("subscription", "azure-csp-1") == ["migration", "switch", "continues"]
    assert spans("subscription", "azure-ea-1") == [("channel", "", "ea")]
    assert "Enterprise Agreement" in lanes[("subscription", "azure-ea-1")]["text"]
    assert marks("subscription", "azure-ea-1") == ["purchase", "cancellation"]
    assert marks("subscription", "o365-1") == ["purchase", "cancellation"]
    assert spans("subscription", "o365-2") == [("por", "litware", "csp")]
    assert "Litware via Adatum Distribution" in lanes[("subscription", "o365-2")]["text"]
    assert spans("partner", "fabrikam") == [  # its invitation was accepted the same day: no width
        ("relationship", "fabrikam", "req-fab-1"),
        ("dap", "fabrikam", "dap-fab-1"),
    ]
    assert "revoked" in marks("partner", "fabrikam")
    assert "reseller relationship for reseller Litware" in lanes[("partner", "adatum")]["text"]
    assert spans("partner", "litware") == [("gdap", "litware", "gdap-lit-1")]
    assert marks("partner", "litware") == ["expired"]
    assert "GDAP: Helpdesk Administrator" in lanes[("partner", "litware")]["text"]
    northwind = [s for s in lanes[("partner", "northwind")]["spans"] if s["kind"] == "gdap"]
    assert [(s["delegation"], s["end"], s["expires"]) for s in northwind] == [
        ("gdap-nw-1", "2026-01-14T00:00:00Z", "2026-01-14T00:00:00Z"),
        ("gdap-nw-2", "", "2028-01-09T00:00:00Z"),
    ]
    assert "expires 2028-01-09" in lanes[("partner", "northwind")]["text"]  # beyond the report's end

    # One colour per partner, the same in the legend, its lane and its spans.
    legend = {p["partner"]: p["colour"] for p in shown["legend"]}
    assert set(legend) == {"fabrikam", "northwind", "adatum", "litware"}
    assert shown["laneColours"] == {p: legend[p] for p in shown["laneColours"]}
    for lane in shown["lanes"]:
        for s in lane["spans"]:
            if s.get("partner"):
                assert s["fill"] == legend[s["partner"]]
    assert {"2019", "2020", "2025", "2026"} <= set(shown["ticks"])

    header = shown["header"]
    with Ledger(f"sqlite:///{reports['db']}") as ledger:
        head = ledger.head_hash()
    assert header["customer"] == "Contoso Ltd (contoso)" and header["cloud"] == "commercial"
    assert header["period"].startswith("2019-01-10T00:00:00Z (first event) to ")
    assert head in header["head"] and header["head"].startswith("position 61,")
    assert header["verification"].startswith("passed") and header["event-count"] == "24"
    positions = [int(row[0]) for row in shown["rows"]]
    assert len(positions) == 24 and positions == sorted(positions)
    switched = next(row for row in shown["rows"] if row[3] == "subscription.switched")
    assert switched[4] == "azure-csp-1 was switched from Fabrikam to Northwind Traders."
    assert re.fullmatch(r"[0-9a-f]{12}", switched[5])


def test_the_demo_report_of_fourthcoffee_in_chromium(browser: Chromium, reports: dict[str, Path]) -> None:
    page, shown, _ = _load(browser, reports["fourthcoffee"])
    page.close()
    assert shown["header"]["cloud"] == "china"
    (sub,) = [lane for lane in shown["lanes"] if lane["kind"] == "subscription"]
    assert sub["key"] == "o365-cn-1" and [s["channel"] for s in sub["spans"]] == ["21vianet"]
    assert "21Vianet" in sub["text"]
    partners = {lane["key"]: lane for lane in shown["lanes"] if lane["kind"] == "partner"}
    assert set(partners) == {"bluesky", "harbin"}  # harbin: since 2023, for its reseller Pearl River
    for lane in partners.values():
        assert [s["kind"] for s in lane["spans"]] == ["relationship"]
    assert len(shown["rows"]) == 6


NOTE = '<script>document.title = "pwned"</script><img src="x" onerror="document.title=1">'


def test_one_event_and_an_escaped_note(browser: Chromium, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'one.db'}"
    with Ledger(db) as ledger:
        event = raw(
            "customer.registered",
            "2021-05-05T10:00:00Z",
            "global-admin",
            "tiny",
            note=NOTE,
            customer_id="tiny",
            name="<b>Tiny & Co</b>",
            cloud="commercial",
        )
        ledger.record(parse_event(event))
    for extra in ((), ("--as-of", "2021-05-05T10:00:00Z")):  # a span of years, and of an instant
        target = tmp_path / f"tiny{len(extra)}.html"
        run_json("--db", db, "report", "tiny", "--out", str(target), *extra)
        page_text = target.read_text(encoding="utf-8")
        assert "&lt;script&gt;" in page_text and "<script" not in page_text and "<b>" not in page_text
        page, shown, _ = _load(browser, target)
        page.close()
        assert shown["title"] == "Relationship history of <b>Tiny & Co</b> (tiny)"
        ((position, _, _, kind, what, _),) = shown["rows"]
        assert (position, kind) == ("1", "customer.registered")
        assert what.endswith(f"note: {NOTE}")
        texts = " ".join(lane["text"] for lane in shown["lanes"])
        assert "No subscription on record." in texts and "No reseller relationship" in texts
        assert len(shown["ticks"]) >= 2


def big_history(cid: str = "bigcorp", count: int = 2000) -> list[Event]:
    """One customer with ``count`` events: many subscriptions bought, switched and cancelled,
    GDAP granted, revoked and expired, among six partners; one event every six hours."""
    clock = (datetime(2019, 1, 1, tzinfo=UTC) + timedelta(hours=6 * i) for i in range(10**6))

    def at() -> str:
        return next(clock).strftime("%Y-%m-%dT%H:%M:%SZ")

    partners = [f"partner-{i}" for i in range(6)]
    mine: list[Event] = [
        customer(cid, at=at()),
        request("r-open", "partner-6", cid, at=at()),
    ]  # never accepted
    for p in partners:
        mine += [request(f"r-{p}", p, cid, at=at()), accept(f"r-{p}", cid, at=at())]
    por: dict[str, str] = {}
    active: list[str] = []
    expires: dict[str, str] = {}
    k = 0
    while len(mine) < count:
        sid = f"sub-{k:04d}"
        por[sid] = partners[k % 6]
        mine.append(purchase(sid, cid, at=at(), seller=por[sid]))
        active.append(sid)
        k += 1
        if len(active) > 12:
            old = active.pop(0)
            mine.append(cancel(old, at=at(), tenant=por[old]))
        if k % 3 == 0:
            s = active[-2]
            to = partners[(partners.index(por[s]) + 1) % 6]
            mine.append(switch(s, por[s], to, at=at()))
            por[s] = to
        if k % 2 == 0:
            did, now = f"d-{k:04d}", at()
            expires[did] = (parse_time(now, "t") + timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
            pid = partners[k % 5]
            mine.append(gdap_request(did, cid, pid, at=now, duration="P20D", roles=["Global Reader"]))
            mine.append(
                grant(
                    did,
                    cid,
                    partners[k % 5],
                    at=now,
                    kind="gdap",
                    expires=expires[did],
                    roles=["Global Reader"],
                )
            )
            old = f"d-{k - 6:04d}"
            if k % 3 and old in expires and expires[old] > now:
                mine.append(revoke(old, cid, at=at()))
    return [partner(p, at="2018-06-01T00:00:00Z") for p in [*partners, "partner-6"]] + mine[:count]


def test_2000_events_stay_legible(browser: Chromium, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'big.db'}"
    history = big_history()
    with Ledger(db) as ledger:
        ledger.record_many([(0, e) for e in history])
    last = history[-1].effective_at
    target = tmp_path / "big.html"
    answer = run_json("--db", db, "report", "bigcorp", "--out", str(target), "--as-of", last)
    assert answer["events"] == 2000
    page, shown, layout = _load(browser, target)
    page.screenshot(tmp_path / "big.png", full_page=False)
    page.close()
    assert len(shown["rows"]) == 2000
    subs = [lane for lane in shown["lanes"] if lane["kind"] == "subscription"]
    assert len(subs) == 24
    notes = " ".join(lane["text"] for lane in shown["lanes"] if lane["kind"] == "note")
    assert re.search(r"\+\d+ more subscriptions", notes)
    partners = {lane["key"]: lane for lane in shown["lanes"] if lane["kind"] == "partner"}
    assert len(partners) == 7
    assert [s["kind"] for s in partners["partner-6"]["spans"]] == ["invitation"]
    assert "invitation (open)" in partners["partner-6"]["text"]
    assert layout["lanes"] < 60


def test_the_network_check_sees_a_request(browser: Chromium, tmp_path: Path) -> None:
    """The check above is not vacuous: a page that asks for anything is caught, even when its
    Content-Security-Policy blocks the request (and the browser's proxy goes nowhere)."""
    pixel = "http://report.invalid/pixel.png"
    for csp in ("", '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'">'):
        control = tmp_path / f"control{len(csp)}.html"
        control.write_text(f'<!DOCTYPE html><html><head>{csp}</head><body><img src="{pixel}"></body></html>')
        page = browser.open(control)
        assert pixel in page.requests()
        page.close()


def test_the_readme_shows_the_report() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "](docs/report.png)" in readme and "scripts/screenshot.sh" in readme
    picture = (ROOT / "docs" / "report.png").read_bytes()
    assert _png_size(picture)[0] == WIDTH and len(picture) < 500_000
    script = ROOT / "scripts" / "screenshot.sh"
    assert script.stat().st_mode & 0o111 and "report contoso" in script.read_text()
