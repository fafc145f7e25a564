"""The auditor report's findings (``cli/_report/_findings``), on both stores: each kind on a
small hand-made ledger with two customers, one that has it and one that has not (or has it
no more), with the events that prove it; then the demo's findings, from its known story; then
the command's answer and page."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from cli import _demo as demo
from cli._report import Finding, cited_events, findings
from ledger import Event, Ledger, read
from ledger._time import parse_time
from projections._time import to_us

from builders import (
    accept,
    cancel,
    customer,
    extend,
    gdap_request,
    grant,
    partner,
    program_changed,
    purchase,
    remove,
    request,
    revoke,
    switch,
)
from clitools import run, run_json


def _us(text: str) -> int:
    return to_us(parse_time(text, "t"))


def found(ledger: Ledger, cid: str, as_of: str, kind: str | None = None) -> list[Finding]:
    """The customer's findings as of then, as the report computes them (of ``kind`` only)."""
    t = read.timeline(ledger, cid, _us(as_of))
    events = list(read.history(ledger, customer=cid, as_of=t.as_of))
    out = findings(t, events, cited_events(ledger, t, None))
    return [f for f in out if kind is None or f.kind == kind]


def subjects(ledger: Ledger, cid: str, as_of: str, kind: str) -> list[str]:
    return [f.subject for f in found(ledger, cid, as_of, kind)]


def record(ledger: Ledger, events: Iterable[Event]) -> dict[str, int]:
    """Record the events; each one's position by its event id."""
    receipts = ledger.record_many([(0, e) for e in events])
    return {str(r.event_id): r.position for r in receipts}


def proofs(f: Finding) -> list[tuple[str, int]]:
    return [(p.type, p.position) for p in f.proofs]


def position(positions: dict[str, int], event: Event) -> int:
    return positions[str(event.event_id)]


BASE = [
    partner("fabrikam", at="2018-01-01T00:00:00Z"),
    partner("northwind", at="2018-01-01T00:00:00Z"),
    customer("contoso", at="2019-01-01T00:00:00Z"),
    customer("tailspin", at="2019-01-01T00:00:00Z"),
]


def _gdap(did: str, cid: str, at: str, duration: str, expires: str, roles: list[str]) -> list[Event]:
    return [
        gdap_request(did, cid, "fabrikam", at=at, duration=duration, roles=roles),
        grant(did, cid, "fabrikam", at=at, kind="gdap", expires=expires, roles=roles),
    ]


def test_gdap_expiring_within_30_60_90_days(ledger: Ledger) -> None:
    day = "2024-01-01T00:00:00Z"
    roles = ["Helpdesk Administrator"]
    soon = _gdap("g-30", "contoso", day, "P29D", "2024-01-30T00:00:00Z", roles)
    later = _gdap("g-60", "contoso", day, "P59D", "2024-02-29T00:00:00Z", roles)
    last = _gdap("g-90", "contoso", day, "P89D", "2024-03-30T00:00:00Z", roles)
    far = _gdap("g-far", "contoso", day, "P365D", "2024-12-31T00:00:00Z", roles)
    # tailspin: one beyond 90 days, one ended (revoked) inside the window
    beyond = _gdap("t-far", "tailspin", day, "P101D", "2024-04-11T00:00:00Z", roles)
    ended = _gdap("t-gone", "tailspin", day, "P29D", "2024-01-30T00:00:00Z", roles)
    gone = revoke("t-gone", "tailspin", at="2024-01-05T00:00:00Z")
    at = record(ledger, [*BASE, *soon, *later, *last, *far, *beyond, *ended, gone])

    got = found(ledger, "contoso", "2024-01-10T00:00:00Z", "gdap-expiring")
    assert [(f.subject, f.window) for f in got] == [("g-30", 30), ("g-60", 60), ("g-90", 90)]
    assert "expires on 2024-01-30, in 20 days: within 30 days" in got[0].text
    assert "Fabrikam" in got[0].text and "Helpdesk Administrator" in got[0].text
    assert proofs(got[0]) == [("delegation.granted", position(at, soon[1]))]
    assert found(ledger, "tailspin", "2024-01-10T00:00:00Z", "gdap-expiring") == []
    # Exactly 90 days ahead is within; a second more is not; expired is no longer "expiring".
    assert subjects(ledger, "tailspin", "2024-01-12T00:00:00Z", "gdap-expiring") == ["t-far"]
    assert found(ledger, "tailspin", "2024-01-11T23:59:59Z", "gdap-expiring") == []
    assert subjects(ledger, "contoso", "2024-04-01T00:00:00Z", "gdap-expiring") == []


def test_an_extended_gdap_expires_at_its_new_end_and_cites_the_extension(ledger: Ledger) -> None:
    roles = ["User Administrator"]
    request_ = gdap_request(
        "g-ext",
        "contoso",
        "fabrikam",
        at="2024-01-01T00:00:00Z",
        duration="P30D",
        roles=roles,
        auto_extend="P180D",
    )
    granted = grant(
        "g-ext",
        "contoso",
        "fabrikam",
        at="2024-01-01T00:00:00Z",
        kind="gdap",
        expires="2024-01-31T00:00:00Z",
        roles=roles,
    )
    extended = extend("g-ext", at="2024-01-31T00:00:00Z", expires="2024-07-29T00:00:00Z")
    at = record(ledger, [*BASE, request_, granted, extended])
    before = found(ledger, "contoso", "2024-01-20T00:00:00Z", "gdap-expiring")
    assert [(f.subject, f.window) for f in before] == [("g-ext", 30)]
    assert found(ledger, "contoso", "2024-03-01T00:00:00Z", "gdap-expiring") == []  # 150 days left
    (late,) = found(ledger, "contoso", "2024-06-15T00:00:00Z", "gdap-expiring")
    assert late.window == 60 and "2024-07-29" in late.text
    assert proofs(late) == [
        ("delegation.granted", position(at, granted)),
        ("delegation.extended", position(at, extended)),
    ]


def test_gdap_holding_global_administrator(ledger: Ledger) -> None:
    day = "2024-01-01T00:00:00Z"
    by_name = _gdap("ga-name", "contoso", day, "P60D", "2024-03-01T00:00:00Z", ["global-administrator"])
    by_id = _gdap(
        "ga-id",
        "contoso",
        day,
        "P60D",
        "2024-03-01T00:00:00Z",
        ["Helpdesk Administrator", "62e90394-69f5-4237-9190-012177145e10"],
    )
    # tailspin: a narrower GDAP, and a Global Administrator one revoked
    narrow = _gdap("t-narrow", "tailspin", day, "P60D", "2024-03-01T00:00:00Z", ["Global Reader"])
    revoked = _gdap("t-ga", "tailspin", day, "P60D", "2024-03-01T00:00:00Z", ["global-administrator"])
    end = revoke("t-ga", "tailspin", at="2024-01-02T00:00:00Z")
    at = record(ledger, [*BASE, *by_name, *by_id, *narrow, *revoked, end])

    got = found(ledger, "contoso", "2024-01-10T00:00:00Z", "gdap-global-administrator")
    assert [f.subject for f in got] == ["ga-id", "ga-name"]
    assert "gives Fabrikam Global Administrator (and Helpdesk Administrator)" in got[0].text
    assert proofs(got[1]) == [
        ("delegation.requested", position(at, by_name[0])),
        ("delegation.granted", position(at, by_name[1])),
    ]
    assert found(ledger, "tailspin", "2024-01-10T00:00:00Z", "gdap-global-administrator") == []
    # Before its revocation tailspin's counted; after its expiry contoso's no longer do.
    assert [
        f.subject for f in found(ledger, "tailspin", "2024-01-01T12:00:00Z", "gdap-global-administrator")
    ] == ["t-ga"]
    assert found(ledger, "contoso", "2024-03-01T00:00:00Z", "gdap-global-administrator") == []


def test_a_dap_without_a_live_relationship(ledger: Ledger) -> None:
    reseller = partner("litware", "csp-indirect-reseller", at="2018-01-01T00:00:00Z", providers=["adatum"])
    provider = partner("adatum", "csp-indirect-provider", at="2018-01-01T00:00:00Z")
    contoso = [
        request("req-c", "fabrikam", "contoso", at="2019-02-01T00:00:00Z"),
        accept("req-c", "contoso", at="2019-02-02T00:00:00Z"),
        grant("dap-c", "contoso", "fabrikam", at="2019-03-01T00:00:00Z"),
        remove("fabrikam", "contoso", at="2020-01-01T00:00:00Z"),
    ]
    tailspin = [  # fabrikam's relationship kept; litware's DAP rests on its provider's invitation
        request("req-t", "fabrikam", "tailspin", at="2019-02-01T00:00:00Z"),
        accept("req-t", "tailspin", at="2019-02-02T00:00:00Z"),
        grant("dap-t", "tailspin", "fabrikam", at="2019-03-01T00:00:00Z"),
        request("req-a", "adatum", "tailspin", at="2019-02-01T00:00:00Z", reseller="litware"),
        accept("req-a", "tailspin", at="2019-02-02T00:00:00Z"),
        grant("dap-l", "tailspin", "litware", at="2019-03-01T00:00:00Z"),
    ]
    at = record(ledger, [*BASE, provider, reseller, *contoso, *tailspin])

    (got,) = found(ledger, "contoso", "2020-06-01T00:00:00Z", "delegation-without-relationship")
    assert got.subject == "dap-c"
    assert got.text == (
        "DAP dap-c of Fabrikam is still active on 2020-06-01, but its last reseller relationship "
        "with Contoso was removed on 2020-01-01."
    )
    assert proofs(got) == [
        ("delegation.granted", position(at, contoso[2])),
        ("relationship.removed", position(at, contoso[3])),
    ]
    assert found(ledger, "contoso", "2019-12-31T00:00:00Z", "delegation-without-relationship") == []
    assert found(ledger, "tailspin", "2020-06-01T00:00:00Z", "delegation-without-relationship") == []
    # Removing adatum's relationship leaves litware's DAP with none; revoking the DAP ends it.
    record(ledger, [remove("adatum", "tailspin", at="2020-07-01T00:00:00Z")])
    assert [
        f.subject
        for f in found(ledger, "tailspin", "2020-08-01T00:00:00Z", "delegation-without-relationship")
    ] == ["dap-l"]
    record(ledger, [revoke("dap-c", "contoso", at="2020-07-01T00:00:00Z")])
    assert found(ledger, "contoso", "2020-08-01T00:00:00Z", "delegation-without-relationship") == []


def test_a_dap_still_active_after_its_retirement(ledger: Ledger) -> None:
    both = [
        request("req-c", "fabrikam", "contoso", at="2023-01-01T00:00:00Z"),
        accept("req-c", "contoso", at="2023-01-02T00:00:00Z"),
        grant("dap-c", "contoso", "fabrikam", at="2023-01-03T00:00:00Z"),
        request("req-t", "fabrikam", "tailspin", at="2023-01-01T00:00:00Z"),
        accept("req-t", "tailspin", at="2023-01-02T00:00:00Z"),
        grant("dap-t", "tailspin", "fabrikam", at="2023-01-03T00:00:00Z"),
        revoke("dap-t", "tailspin", at="2023-09-01T00:00:00Z"),
    ]
    at = record(ledger, [*BASE, *both])
    (got,) = found(ledger, "contoso", "2023-12-01T00:00:00Z", "dap-after-retirement")
    assert got.subject == "dap-c" and "after DAP's retirement on 2023-10-09" in got.text
    assert proofs(got) == [("delegation.granted", position(at, both[2]))]
    assert found(ledger, "contoso", "2023-10-08T23:59:59Z", "dap-after-retirement") == []  # not yet retired
    assert len(found(ledger, "contoso", "2023-10-09T00:00:00Z", "dap-after-retirement")) == 1
    assert found(ledger, "tailspin", "2023-12-01T00:00:00Z", "dap-after-retirement") == []


def test_a_licence_past_its_term(ledger: Ledger) -> None:
    term = "2020-03-01T00:00:00Z"
    contoso = purchase("lic-c", "contoso", at="2019-03-01T00:00:00Z", service="license", term_end=term)
    tailspin = [
        purchase("lic-t", "tailspin", at="2019-03-01T00:00:00Z", service="license", term_end=term),
        cancel("lic-t", at=term),  # cancelled at its term end
        purchase(
            "lic-t2",
            "tailspin",
            at="2020-03-01T00:00:00Z",
            service="license",
            term_end="2021-03-01T00:00:00Z",
        ),
        purchase("azure-t", "tailspin", at="2019-03-01T00:00:00Z"),  # usage: no term
    ]
    at = record(ledger, [*BASE, contoso, *tailspin])
    (got,) = found(ledger, "contoso", "2020-06-01T00:00:00Z", "licence-past-term")
    assert got.subject == "lic-c"
    assert got.text == (
        "Licence lic-c (Office 365 E3, Fabrikam) reached its term end on 2020-03-01 and is still "
        "active on 2020-06-01: neither cancelled nor bought anew."
    )
    assert proofs(got) == [("subscription.purchased", position(at, contoso))]
    assert found(ledger, "contoso", term, "licence-past-term") == []  # at its term end: not past it
    assert found(ledger, "tailspin", "2020-06-01T00:00:00Z", "licence-past-term") == []


def test_a_partner_program_changed_under_a_live_subscription(ledger: Ledger) -> None:
    contoso = [
        purchase("azure-c", "contoso", at="2019-03-01T00:00:00Z", seller="fabrikam"),
        request("req-nw", "northwind", "contoso", at="2019-04-01T00:00:00Z"),
        accept("req-nw", "contoso", at="2019-04-02T00:00:00Z"),
        switch("azure-c", "fabrikam", "northwind", at="2019-05-01T00:00:00Z"),
    ]
    tailspin = [  # fabrikam's subscription cancelled before the change
        purchase("azure-t", "tailspin", at="2019-03-01T00:00:00Z", seller="fabrikam"),
        cancel("azure-t", at="2019-12-01T00:00:00Z"),
    ]
    changes = [
        program_changed("fabrikam", "advisor", at="2020-01-01T00:00:00Z"),  # after contoso switched away
        program_changed("northwind", "csp-indirect-provider", at="2020-02-01T00:00:00Z"),
    ]
    at = record(ledger, [*BASE, *contoso, *tailspin, *changes])
    (got,) = found(ledger, "contoso", "2020-06-01T00:00:00Z", "program-changed")
    assert got.subject == "northwind"
    assert got.text == (
        "Northwind changed program from csp-direct to csp-indirect-provider on 2020-02-01 while "
        "partner of record of azure-c."
    )
    assert proofs(got) == [
        ("partner.program-changed", position(at, changes[1])),
        ("subscription.switched", position(at, contoso[3])),
    ]
    assert found(ledger, "contoso", "2020-01-31T00:00:00Z", "program-changed") == []  # not yet
    assert found(ledger, "tailspin", "2020-06-01T00:00:00Z", "program-changed") == []


def _ids(*stories: str) -> list[str]:
    """The event ids of the demo's recorded steps told by these words of its story."""
    out = []
    for words in stories:
        (step,) = [s for s in demo.steps() if s.story.startswith(words) and s.expect is None]
        out.append(str(step.event.event_id))
    return out


def test_the_demo_findings(ledger: Ledger) -> None:
    """The demo's story, as of chosen days: its findings are the ones the story tells, each
    proven by the story's own events."""
    demo.load(ledger)
    contoso = found(ledger, "contoso", "2025-12-01T00:00:00Z")
    assert [(f.kind, f.subject, f.window) for f in contoso] == [
        ("gdap-expiring", "gdap-nw-1", 60),  # expires 2026-01-14: in 44 days
        ("licence-past-term", "o365-2", None),  # its term ended 2021-03-01, never cancelled
    ]
    assert "in 44 days" in contoso[0].text
    (approval,) = [
        str(s.event.event_id)
        for s in demo.steps()
        if s.event.type == "delegation.granted" and s.event.data["delegation_id"] == "gdap-nw-1"
    ]
    assert [p.event_id for p in contoso[0].proofs] == [approval]
    assert [p.event_id for p in contoso[1].proofs] == _ids("…and bought anew through Adatum")

    tailspin = found(ledger, "tailspin", "2024-01-15T00:00:00Z")
    assert [(f.kind, f.subject, f.window) for f in tailspin] == [
        ("gdap-expiring", "gdap-tt-1", 30),  # 2024-02-03
        ("gdap-expiring", "gdap-tt-2", 30),  # 2024-01-31
        ("gdap-global-administrator", "gdap-tt-2", None),  # Northwind's Global Administrator for 90 days
    ]
    assert [p.event_id for p in tailspin[2].proofs] == _ids(
        "Northwind asks for Global Administrator", "Tailspin approves it"
    )
    # Never extended (the rulebook refused it): gone at its expiry; the first one was extended.
    assert [(f.kind, f.subject) for f in found(ledger, "tailspin", "2024-02-01T00:00:00Z")] == [
        ("gdap-expiring", "gdap-tt-1")
    ]
    assert found(ledger, "tailspin", "2024-02-04T00:00:00Z") == []  # extended to 2024-08-01
    (summer,) = found(ledger, "tailspin", "2024-07-15T00:00:00Z")
    assert (summer.subject, summer.window) == ("gdap-tt-1", 30)
    assert [p.event_id for p in summer.proofs] == _ids(
        "Tailspin's Global admin approves it", "At its expiry Microsoft auto-extends"
    )

    wingtip = found(ledger, "wingtip", "2024-01-15T00:00:00Z")
    assert [(f.kind, f.subject) for f in wingtip] == [("dap-after-retirement", "dap-fab-wt")]
    assert [p.event_id for p in wingtip[0].proofs] == _ids("Wingtip grants Fabrikam DAP")
    later = found(ledger, "wingtip", "2024-03-02T00:00:00Z")  # the DAP removed, the licence past term
    assert [(f.kind, f.subject) for f in later] == [("licence-past-term", "o365-wt")]
    assert [(f.kind, f.subject) for f in found(ledger, "fourthcoffee", "2022-01-01T00:00:00Z")] == [
        ("licence-past-term", "o365-cn-1")
    ]


def test_the_report_lists_its_findings(url: str, tmp_path: Path) -> None:
    """The command: the findings in --json, and on the page with links to the events."""
    run_json("--db", url, "demo")
    target = tmp_path / "t.html"
    answer = run_json("--db", url, "report", "tailspin", "--out", str(target), "--as-of", "2024-01-15")
    kinds = [(f["kind"], f["subject"], f.get("window_days")) for f in answer["findings"]]
    assert kinds == [
        ("gdap-expiring", "gdap-tt-1", 30),
        ("gdap-expiring", "gdap-tt-2", 30),
        ("gdap-global-administrator", "gdap-tt-2", None),
    ]
    with Ledger(url) as ledger:
        stored = {e["event_id"]: e["position"] for e in ledger.stored()}
    for f in answer["findings"]:
        assert f["events"] and all(stored[e["event_id"]] == e["position"] for e in f["events"])
    page = target.read_text(encoding="utf-8")
    assert "<h2>Findings (3)</h2>" in page

    def row(position: int) -> str:
        start = page.index(f'<tr id="event-{position}"')
        return page[start : page.index("</tr>", start)]

    for e in answer["findings"][2]["events"]:  # linked both ways: finding to event, event to finding
        assert f'<a href="#event-{e["position"]}"' in page
        assert 'href="#found-gdap-global-administrator"' in row(e["position"])
    assert 'id="found-gdap-global-administrator"' in page
    cited = {e["position"] for f in answer["findings"] for e in f["events"]}
    registered = min(int(p) for p in re.findall(r'<tr id="event-(\d+)"', page))
    assert registered not in cited and "proves:" not in row(registered)
    assert 'data-kind="licence-past-term" data-count="0"' in page  # checked, none found
    told = run("--db", url, "report", "tailspin", "--out", str(target), "--as-of", "2024-01-15")
    assert (
        b"Findings: GDAP expiring within 90 days: 2; GDAP holding Global Administrator: 1 (each with its "
        b"events, at the report's top)." in told.stdout
    )
    later = run("--db", url, "report", "tailspin", "--out", str(target), "--as-of", "2025-01-15")
    assert b"Findings: none." in later.stdout and later.returncode == 0
