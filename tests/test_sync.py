"""``ledger sync`` against a local HTTPS server that plays Entra ID, Graph and Partner
Center (``replay.py``): real msal tokens, real paging by ``@odata.nextLink`` and
continuation tokens, throttling with ``Retry-After``, pages failing midway, credentials
missing or refused, and the secret never in any output. Where the store is involved, on
SQLite and PostgreSQL (the ``url`` and ``ledger`` fixtures)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from ledger import Ledger, parse_event
from ledger._ingest import SOURCES, Context, Proposal, Record, Skip, event_id
from ledger._ingest._fetch import (
    ORDER,
    Credentials,
    Downloaded,
    Endpoints,
    Window,
    audit_windows,
    download,
    earliest_audit_start,
    fetcher,
    http_client,
)
from ledger._ingest._http import Patience, Unreachable, retry_after
from ledger._ingest._sync import OVERLAP, SyncResult, plan_audit, sync

from builders import raw
from clitools import ledger_command
from replay import (
    CLIENT_ID,
    GRAPH_TOKEN,
    PC_TOKEN,
    SECRET,
    TENANT,
    Answer,
    Replay,
    failing,
    graph_paged,
    pc_audit,
    pc_paged,
    serving,
)

GDAP_PATH = "/v1.0/tenantRelationships/delegatedAdminRelationships"
QUICK = Patience(retries=2, backoff=0.01, max_wait=30, timeout=10)


@pytest.fixture
def replay(tmp_path: Path) -> Iterator[Replay]:
    with serving(tmp_path) as server:
        yield server


def endpoints(replay: Replay) -> Endpoints:
    """Graph at localhost, Partner Center and the authority at 127.0.0.1: two origins, as in
    the cloud, so each token is seen to go only where it belongs."""
    return Endpoints(replay.base.replace("127.0.0.1", "localhost"), replay.base, replay.base).checked()


def fetch(
    replay: Replay,
    sources: list[str],
    windows: list[Window] | None = None,
    patience: Patience = QUICK,
    secret: str = SECRET,
) -> Downloaded:
    where = endpoints(replay)
    credentials = Credentials(TENANT, CLIENT_ID, secret)
    with http_client(str(replay.ca), patience) as client:
        return download(
            sources, windows or [], fetcher(credentials, where, patience, str(replay.ca), client), where
        )


def items(raw: bytes, key: str = "items") -> list[Any]:
    found: list[Any] = orjson.loads(raw)[key]
    return found


# --- paging -------------------------------------------------------------------------------


def test_graph_pages_are_followed_by_their_next_link_with_the_graph_token(replay: Replay) -> None:
    pages = [[{"id": f"rel-{p}-{i}"} for i in range(2)] for p in range(3)]
    graph_paged(replay, GDAP_PATH, pages)
    done = fetch(replay, ["graph-gdap"])
    assert [name for name, _ in done.pages["graph-gdap"]] == [f"graph-gdap response {n}" for n in (1, 2, 3)]
    assert [items(raw, "value") for _, raw in done.pages["graph-gdap"]] == pages
    asked = replay.api()
    assert [s.query.get("$skiptoken") for s in asked] == [None, ["1"], ["2"]]
    assert {s.headers["authorization"] for s in asked} == {f"Bearer {GRAPH_TOKEN}"}
    assert all(s.headers["host"].startswith("localhost:") for s in asked)  # Graph's origin only
    # msal asked the authority once per scope: discovery, then one client-credentials token
    tokens = [s for s in replay.seen if s.method == "POST"]
    assert [t.form["grant_type"] for t in tokens] == [["client_credentials"]]
    assert tokens[0].form["scope"][0].split()[0] == "https://graph.microsoft.com/.default"


def test_partner_center_pages_are_followed_by_links_next_and_the_continuation_token(replay: Replay) -> None:
    customers = [[{"id": "c-1"}, {"id": "c-2"}], [{"id": "c-3"}]]
    pc_paged(replay, "/v1/customers", customers)
    for customer in ("c-1", "c-2", "c-3"):
        pages = [[{"id": f"{customer}-sub-1"}], [{"id": f"{customer}-sub-2"}]] if customer == "c-2" else [[]]
        pc_paged(replay, f"/v1/customers/{customer}/subscriptions", pages)
    done = fetch(replay, ["pc-subscriptions"])
    assert "pc-customers" not in done.pages  # fetched for their ids, ingested only when asked
    subscriptions = [item["id"] for _, raw in done.pages["pc-subscriptions"] for item in items(raw)]
    assert subscriptions == ["c-2-sub-1", "c-2-sub-2"]
    assert [name for name, _ in done.pages["pc-subscriptions"]] == [
        "pc-subscriptions customer c-1 response 1",
        "pc-subscriptions customer c-2 response 1",
        "pc-subscriptions customer c-2 response 2",
        "pc-subscriptions customer c-3 response 1",
    ]
    asked = replay.api()
    assert [(s.path, s.headers.get("ms-continuationtoken")) for s in asked[:2]] == [
        ("/v1/customers", None),
        ("/v1/customers?seekOperation=Next", "token-1"),
    ]
    assert {s.headers["authorization"] for s in asked} == {f"Bearer {PC_TOKEN}"}
    assert {s.headers["ms-contract-version"] for s in asked} == {"v1"}
    assert len({s.headers["ms-correlationid"] for s in asked}) == 1  # one run, one correlation id


def test_audit_records_are_asked_for_window_by_window_each_to_its_last_page(replay: Replay) -> None:
    pc_paged(replay, "/v1/auditrecords", [[{"id": "a-1"}], [{"id": "a-2"}]])
    end = datetime(2026, 11, 30, 12, tzinfo=UTC)
    windows = audit_windows(end - timedelta(days=45), end)
    assert [(w.end - w.start).days for w in windows] == [30, 15]
    done = fetch(replay, ["pc-audit"], windows)
    assert [item["id"] for _, raw in done.pages["pc-audit"] for item in items(raw)] == ["a-1", "a-2"] * 2
    firsts = [s.query for s in replay.api() if "seekOperation" not in s.path]
    assert [(q["startDate"], q["endDate"]) for q in firsts] == [
        (["2026-10-16T12:00:00Z"], ["2026-11-15T12:00:00Z"]),
        (["2026-11-15T12:00:00Z"], ["2026-11-30T12:00:00Z"]),
    ]


def test_a_next_link_to_another_host_is_not_followed(replay: Replay) -> None:
    def route(_seen: Any) -> Answer:
        return Answer(
            body={"value": [], "@odata.nextLink": "https://elsewhere.example/v1.0/steal?$skiptoken=1"}
        )

    replay.routes[GDAP_PATH] = route
    with pytest.raises(Unreachable, match=r"another host .*elsewhere\.example.* not followed"):
        fetch(replay, ["graph-gdap"])
    assert len(replay.api()) == 1


# --- throttling and failures -------------------------------------------------------------


def test_429_waits_as_long_as_retry_after_says_then_gets_the_page(replay: Replay) -> None:
    pc_paged(replay, "/v1/relationships", [[{"id": "r-1", "mpnId": "1"}]])
    route = replay.routes["/v1/relationships"]
    replay.routes["/v1/relationships"] = failing(
        route, [Answer(429, {"error": "slow down"}, {"Retry-After": "1"})]
    )
    done = fetch(replay, ["pc-resellers"])
    assert [item["id"] for _, raw in done.pages["pc-resellers"] for item in items(raw)] == ["r-1"]
    first, second = replay.api()
    assert second.at - first.at >= 1.0  # the wait happened
    assert first.headers["ms-requestid"] == second.headers["ms-requestid"]  # the same request, retried
    assert done.waited == 1.0


def test_a_retry_after_beyond_the_patience_gives_up_at_once(replay: Replay) -> None:
    replay.routes["/v1/relationships"] = lambda _s: Answer(429, {}, {"Retry-After": "3600"})
    started = time.monotonic()
    with pytest.raises(Unreachable, match=r"HTTP 429 and asked to wait 3600 s, beyond .*--max-wait 30 s"):
        fetch(replay, ["pc-resellers"])
    assert time.monotonic() - started < 10


def test_5xx_is_retried_a_bounded_number_of_times(replay: Replay) -> None:
    pc_paged(replay, "/v1/relationships", [[{"id": "r-1"}]])
    route = replay.routes["/v1/relationships"]
    replay.routes["/v1/relationships"] = failing(route, [Answer(500), Answer(503)])
    assert fetch(replay, ["pc-resellers"]).pages["pc-resellers"]  # two failures, two retries
    assert len(replay.api()) == 3

    replay.seen.clear()
    replay.routes["/v1/relationships"] = lambda _s: Answer(500, {"description": "the back end is down"})
    with pytest.raises(Unreachable) as raised:
        fetch(replay, ["pc-resellers"])
    assert len(replay.api()) == 3  # the first try and --retries 2
    message = raised.value.message
    assert "Partner Center answered GET https://127.0.0.1:" in message
    assert "/v1/relationships?relationship_type=IsIndirectCloudSolutionProviderOf with HTTP 500" in message
    assert "the back end is down, 3 times (--retries 2); nothing was stored" in message
    assert raised.value.exit_code == 1


def test_a_certificate_not_trusted_is_said_at_once_not_retried(replay: Replay, tmp_path: Path) -> None:
    from replay import certificate

    (tmp_path / "other").mkdir()
    other, _key = certificate(tmp_path / "other")  # trust another authority than the server's
    where = endpoints(replay)
    credentials = Credentials(TENANT, CLIENT_ID, SECRET)
    with http_client(str(other), QUICK) as client:
        pages = fetcher(credentials, where, QUICK, str(replay.ca), client)  # msal trusts the server
        with pytest.raises(Unreachable, match=r"CERTIFICATE_VERIFY_FAILED.*--ca-bundle") as raised:
            download(["pc-resellers"], [], pages, where)
    assert raised.value.message.startswith("Partner Center did not answer GET https://127.0.0.1:")
    assert pages.requests == 1


def test_retry_after_is_read_as_seconds_or_an_http_date() -> None:
    now = datetime(2026, 12, 1, 20, 0, 0, tzinfo=UTC)
    assert retry_after("7", now) == 7.0
    assert retry_after("Tue, 01 Dec 2026 20:00:05 GMT", now) == 5.0
    assert retry_after("Tue, 01 Dec 2026 19:00:00 GMT", now) == 0.0  # past: no wait
    assert retry_after("soon", now) is None
    assert retry_after(None, now) is None


# --- the credentials -----------------------------------------------------------------------


def test_a_refused_secret_names_its_variable_and_never_shows_the_secret(replay: Replay) -> None:
    from ledger import BadInput

    wrong = "wr0ng-" + SECRET
    with pytest.raises(BadInput) as raised:
        fetch(replay, ["pc-resellers"], secret=wrong)
    assert raised.value.field == "LEDGER_SYNC_CLIENT_SECRET"
    assert "invalid_client" in raised.value.message
    assert wrong not in raised.value.message
    assert replay.api() == []  # nothing asked without a token


def test_a_tenant_the_authority_does_not_know_names_its_variable(replay: Replay) -> None:
    from ledger import BadInput

    where = endpoints(replay)
    with http_client(str(replay.ca), QUICK) as client, pytest.raises(BadInput) as raised:
        credentials = Credentials("no-such-tenant", CLIENT_ID, SECRET)
        download(["pc-resellers"], [], fetcher(credentials, where, QUICK, str(replay.ca), client), where)
    assert raised.value.field == "LEDGER_SYNC_TENANT_ID"
    assert raised.value.message.startswith(
        f"LEDGER_SYNC_TENANT_ID: 'no-such-tenant' is unknown to {replay.base}/"
    )
    assert replay.api() == []


def test_missing_credentials_name_every_missing_variable() -> None:
    from ledger import BadInput

    with pytest.raises(BadInput) as raised:
        Credentials.from_env({"LEDGER_SYNC_CLIENT_ID": "x", "LEDGER_SYNC_CLIENT_SECRET": " "})
    assert [p.field for p in raised.value.problems] == ["LEDGER_SYNC_TENANT_ID", "LEDGER_SYNC_CLIENT_SECRET"]
    assert "hidden-value" not in repr(Credentials("t", "c", "hidden-value"))  # nor in a traceback's locals


# --- where a sync starts ------------------------------------------------------------------


def _audit_event(ledger: Ledger, at: datetime, note: str) -> None:
    """An event as ingesting a record would note it (any type does: the note tells)."""
    partner = f"p-{ledger.head() + 1}"
    ledger.record(
        parse_event(
            {
                "type": "partner.registered",
                "effective_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "actor": {"id": "ingest", "role": "global-admin", "tenant_id": partner},
                "data": {
                    "partner_id": partner,
                    "name": partner,
                    "cloud": "commercial",
                    "program": "csp-direct",
                },
                "note": note,
            }
        )
    )


def test_the_audit_window_starts_where_the_ledger_stops_inside_the_90_days(ledger: Ledger) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    earliest = earliest_audit_start(now)
    first = plan_audit(ledger, None, now)
    assert (first.start, first.end, first.since, first.lost_before) == (earliest, now, "90 days back", None)
    assert len(first.windows) == 3  # 90 days in windows of at most 30

    since = now - timedelta(days=5)
    assert plan_audit(ledger, since, now).start == since
    too_early = plan_audit(ledger, now - timedelta(days=200), now)
    assert (too_early.start, too_early.lost_before) == (earliest, earliest)

    _audit_event(ledger, now - timedelta(days=10), "graph-gdap rel-1")  # not from an audit record
    assert plan_audit(ledger, None, now).since == "90 days back"
    last = now - timedelta(days=3, hours=2)
    _audit_event(ledger, last, "pc-audit 6a0f: actor role admin-agent (defaulted)")
    resumed = plan_audit(ledger, None, now)
    assert (resumed.start, resumed.since, resumed.last, resumed.lost_before) == (
        last - OVERLAP,
        "the ledger",
        last,
        None,
    )


def test_a_ledger_whose_audit_history_stops_beyond_the_90_days_is_told_what_is_gone(ledger: Ledger) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    _audit_event(ledger, now - timedelta(days=120), "pc-audit old-record")
    plan = plan_audit(ledger, None, now)
    assert (plan.start, plan.lost_before) == (earliest_audit_start(now), earliest_audit_start(now))


# --- a whole sync: download everything, then ingest it together ------------------------------
#
# The engine is the real one (``ingest_sources``); the reader and mapping are small ones of
# these tests (each audit record registers one customer, effective at its operationDate, its
# note beginning with its source as the real mappings' do), so what is checked is the sync's
# own promise: all pages or nothing, and where the next run starts.


def _read(source: str, name: str, data: bytes) -> list[Record]:
    page = orjson.loads(data)
    listed = page.get("items", page.get("value"))
    return [Record(source, str(item["id"]), item, name, f"item {i + 1}") for i, item in enumerate(listed)]


def _mapped(records: Sequence[Record], context: Context) -> list[Proposal | Skip]:
    out: list[Proposal | Skip] = []
    for record in records:
        customer = f"c-{record.source_id}"
        body = raw(
            "customer.registered",
            record.data["operationDate"],
            "global-admin",
            context.partner_id,
            note=f"{record.source} {record.source_id}",
            customer_id=customer,
            name=customer,
            cloud="commercial",
        )
        out.append(Proposal(record.source, record.source_id, {"event_id": event_id("t", customer), **body}))
    return out


def _audit_record(n: int, at: datetime) -> dict[str, Any]:
    return {
        "id": f"a-{n}",
        "operationDate": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "operationType": "add_customer",
    }


def _sync(replay: Replay, ledger: Ledger, sources: list[str], **options: Any) -> SyncResult:
    where = endpoints(replay)
    credentials = Credentials(TENANT, CLIENT_ID, SECRET)
    with http_client(str(replay.ca), QUICK) as client:
        fetch = fetcher(credentials, where, QUICK, str(replay.ca), client)
        return sync(
            ledger,
            sources,
            Context("fabrikam"),
            lambda windows: download(sources, windows, fetch, where),
            reader=_read,
            mappers=dict.fromkeys(SOURCES, _mapped),
            **options,
        )


def test_a_page_failing_midway_records_nothing_and_the_next_sync_resumes_and_completes(
    replay: Replay, ledger: Ledger
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    pc_audit(
        replay, [_audit_record(1, now - timedelta(days=5)), _audit_record(2, now - timedelta(days=2))], 1
    )
    graph_paged(replay, GDAP_PATH, [[{"id": "g-1", "operationDate": "2026-01-01T00:00:00Z"}]])
    healthy = replay.routes["/v1/auditrecords"]

    def second_page_fails(seen: Any) -> Answer:
        if seen.headers.get("ms-continuationtoken"):
            return Answer(500, {"description": "internal error"})
        return healthy(seen)

    replay.routes["/v1/auditrecords"] = second_page_fails
    with pytest.raises(Unreachable, match="HTTP 500: internal error, 3 times"):
        _sync(replay, ledger, ["graph-gdap", "pc-audit"])
    assert ledger.head() == 0  # not the Graph pages either, nor the partner's registration
    failed_start = next(s.query["startDate"] for s in replay.api() if "auditrecords" in s.path)

    replay.routes["/v1/auditrecords"] = healthy
    replay.seen.clear()
    done = _sync(replay, ledger, ["graph-gdap", "pc-audit"])
    assert (
        done.audit is not None and done.audit.since == "90 days back"
    )  # nothing stored: from the start again
    resumed_start = next(s.query["startDate"] for s in replay.api() if "auditrecords" in s.path)
    assert abs(_parsed(resumed_start[0]) - _parsed(failed_start[0])) < timedelta(minutes=1)
    assert done.ingested.recorded == 4  # the partner, g-1, a-1, a-2
    # three windows: two empty pages, and the last window's two pages of one record each
    assert done.by_source()["pc-audit"] == {"pages": 4, "recorded": 2, "already_recorded": 0, "skipped": 0}
    notes = [event.get("note", "") for event in ledger.stored()]
    assert [n for n in notes if n.startswith(("pc-audit", "graph-gdap"))] == [
        "graph-gdap g-1",
        "pc-audit a-1",
        "pc-audit a-2",
    ]

    replay.seen.clear()
    again = _sync(replay, ledger, ["pc-audit"])
    assert again.audit is not None and again.audit.since == "the ledger"
    assert again.audit.start == now - timedelta(days=2) - OVERLAP  # where the last one stopped
    assert [s.query["startDate"] for s in replay.api() if "seekOperation" not in s.path] == [
        [(now - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")]
    ]
    assert (again.ingested.recorded, again.ingested.already_recorded) == (0, 1)  # a-2 only: a-1 is before


def test_a_dry_run_downloads_and_answers_the_same_and_stores_nothing(replay: Replay, ledger: Ledger) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    pc_audit(replay, [_audit_record(1, now - timedelta(days=1))])
    dry = _sync(replay, ledger, ["pc-audit"], dry_run=True)
    assert ledger.head() == 0
    real = _sync(replay, ledger, ["pc-audit"])
    assert dry.ingested.to_json() == {**real.ingested.to_json(), "dry_run": True}
    assert real.ingested.recorded == 2  # the partner and c-a-1
    assert ledger.head() == 2


def _parsed(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- the command ------------------------------------------------------------------------------

CREDENTIALS = {
    "LEDGER_SYNC_TENANT_ID": TENANT,
    "LEDGER_SYNC_CLIENT_ID": CLIENT_ID,
    "LEDGER_SYNC_CLIENT_SECRET": SECRET,
}


def ledger_sync(
    replay: Replay | None, db: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``ledger --db DB sync --partner fabrikam ARGS`` as a user runs it, against ``replay``
    (its endpoints and certificate given as the environment variables of the options)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    if replay is not None:
        where = endpoints(replay)
        environment |= {
            "LEDGER_SYNC_GRAPH_URL": where.graph,
            "LEDGER_SYNC_PC_URL": where.partner_center,
            "LEDGER_SYNC_AUTHORITY": where.authority,
            "LEDGER_SYNC_CA_BUNDLE": str(replay.ca),
        }
    environment |= CREDENTIALS if env is None else env
    command = [*ledger_command(), "--db", db, "sync", "--partner", "fabrikam", *args]
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=120)


def test_missing_credentials_are_bad_input_naming_the_variable(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    partial = {"LEDGER_SYNC_TENANT_ID": TENANT, "LEDGER_SYNC_CLIENT_ID": CLIENT_ID}
    plain = ledger_sync(None, db, env=partial)
    assert plain.returncode == 2
    assert plain.stderr.strip() == (
        "error: LEDGER_SYNC_CLIENT_SECRET is not set: the sync needs the app's client credentials in "
        "the environment"
    )
    answer = orjson.loads(ledger_sync(None, db, "--json", env={}).stdout)["error"]
    assert answer["code"] == "bad-input"
    assert answer["fields"] == ["LEDGER_SYNC_TENANT_ID", "LEDGER_SYNC_CLIENT_ID", "LEDGER_SYNC_CLIENT_SECRET"]
    bad_source = ledger_sync(None, db, "--source", "pc-invoices", "--json")
    assert bad_source.returncode == 2
    assert orjson.loads(bad_source.stdout)["error"]["fields"] == ["--source"]
    for since, why in (("2999-01-01", ": 2999-01-01 is in the future"), ("2026-10-01", " is for the audit")):
        bad_since = ledger_sync(None, db, "--source", "graph-gdap", "--since", since)
        assert bad_since.returncode == 2 and bad_since.stderr.startswith(f"error: --since{why}"), bad_since
    assert not (tmp_path / "ledger.db").exists()  # nothing opened, nothing asked


def test_a_page_failing_midway_is_exit_1_with_a_sentence_and_the_store_holds_nothing(
    replay: Replay, url: str
) -> None:
    now = datetime.now(UTC)
    pc_audit(replay, [_audit_record(n, now - timedelta(hours=n)) for n in range(1, 4)], page_size=2)
    healthy = replay.routes["/v1/auditrecords"]
    bad_gateway = Answer(502, b"Bad Gateway", {"Retry-After": "0"})  # honoured on a 5xx too: no pause
    replay.routes["/v1/auditrecords"] = lambda seen: (
        bad_gateway if seen.headers.get("ms-continuationtoken") else healthy(seen)
    )
    graph_paged(replay, GDAP_PATH, [[]])
    plain = ledger_sync(replay, url, "--retries", "1", "--source", "graph-gdap", "--source", "pc-audit")
    assert plain.returncode == 1, plain
    assert plain.stdout == ""
    assert plain.stderr.startswith("error: Partner Center answered GET https://127.0.0.1:")
    assert plain.stderr.rstrip().endswith(
        "/v1/auditrecords?seekOperation=Next with HTTP 502, 2 times (--retries 1); nothing was stored"
    )
    answer = ledger_sync(replay, url, "--retries", "1", "--source", "pc-audit", "--json")
    assert answer.returncode == 1
    assert orjson.loads(answer.stdout)["error"]["code"] == "store"
    with Ledger(url) as ledger:
        assert ledger.head() == 0


def test_the_secret_is_never_printed(replay: Replay, tmp_path: Path) -> None:
    """(The store is not involved: each of these ends before anything is recorded. The
    fixtures' test checks a successful sync's output on both stores.)"""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    graph_paged(replay, GDAP_PATH, [[]])
    wrong = {**CREDENTIALS, "LEDGER_SYNC_CLIENT_SECRET": "wr0ng-" + SECRET}
    refused = ledger_sync(replay, url, "--source", "graph-gdap", env=wrong)
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: LEDGER_SYNC_CLIENT_SECRET is not accepted by the authority")
    assert "invalid_client" in refused.stderr
    refused_json = ledger_sync(replay, url, "--source", "graph-gdap", "--json", env=wrong)
    assert orjson.loads(refused_json.stdout)["error"]["fields"] == ["LEDGER_SYNC_CLIENT_SECRET"]
    unreachable = ledger_sync(replay, url, "--authority", "https://127.0.0.1:1", "--json")
    assert unreachable.returncode == 1
    assert orjson.loads(unreachable.stdout)["error"]["message"].startswith(
        "the authority https://127.0.0.1:1/"
    )
    not_https = ledger_sync(replay, url, "--graph-url", "http://graph.example")
    assert not_https.returncode == 2 and "--graph-url" in not_https.stderr
    outputs = [refused, refused_json, unreachable, not_https]
    for done in outputs:
        for secret in (SECRET, wrong["LEDGER_SYNC_CLIENT_SECRET"]):
            assert secret not in done.stdout + done.stderr


# --- the fixtures' world, synced and ingested --------------------------------------------------

FIXTURES = Path(__file__).parent / "fixtures" / "sources"
PROVIDER = "3b33e682-00c3-41ee-9dd2-a548adf56438"  # the fixtures' ingesting indirect provider


def _fixture_pages(source: str) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = orjson.loads((FIXTURES / f"{source}.pages.json").read_bytes())
    return pages


def serve_fixtures(replay: Replay) -> None:
    """tests/fixtures/sources as Graph and Partner Center would answer them: each source's two
    pages linked as the service links them, each customer's subscriptions and transfers at its
    own address, the audit pages verbatim (a ``links.next`` uri under the API's root without
    its version, as the sample has it) for the first window (90 days back), none for the
    others."""
    graph_paged(replay, GDAP_PATH, [page["value"] for page in _fixture_pages("graph-gdap")])
    customers = [page["items"] for page in _fixture_pages("pc-customers")]
    pc_paged(replay, "/v1/customers", customers)
    pc_paged(replay, "/v1/relationships", [page["items"] for page in _fixture_pages("pc-resellers")])
    for source, what in (("pc-subscriptions", "subscriptions"), ("pc-transfers", "transfers")):
        records = [item for page in _fixture_pages(source) for item in page["items"]]
        for customer in (item["id"] for page in customers for item in page):
            own = [r for r in records if customer in (r.get("customerTenantId"), _customer_in_link(r))]
            pc_paged(
                replay, f"/v1/customers/{customer}/{what}", [own[:1], own[1:]] if len(own) > 1 else [own]
            )
    audit = _fixture_pages("pc-audit")
    token = audit[0]["links"]["next"]["headers"][0]["value"]

    def audit_route(seen: Any) -> Answer:
        if seen.headers.get("ms-continuationtoken") == token:
            assert seen.path == "/v1/auditrecords?size=500", seen.path
            return Answer(body=audit[1])
        first_window = _parsed(seen.query["startDate"][0]) < datetime.now(UTC) - timedelta(days=89)
        empty = {"totalCount": 0, "items": [], "attributes": {"objectType": "Collection"}}
        return Answer(body=audit[0] if first_window else empty)

    replay.routes["/v1/auditrecords"] = audit_route


def _customer_in_link(record: dict[str, Any]) -> str | None:
    uri = record.get("links", {}).get("self", {}).get("uri", "")
    parts = uri.split("/")
    return parts[2] if len(parts) > 2 and parts[1] == "customers" else None


def _content(events: Iterator[dict[str, Any]]) -> set[bytes]:
    keep = ("event_id", "type", "effective_at", "actor", "data", "note")
    return {orjson.dumps({k: e.get(k) for k in keep}, option=orjson.OPT_SORT_KEYS) for e in events}


def test_a_sync_of_the_fixtures_records_what_ingesting_their_files_records(
    replay: Replay, url: str, fresh_url: str
) -> None:
    from ledger._ingest._engine import ingest_sources

    serve_fixtures(replay)
    options = ("--partner", PROVIDER, "--program", "csp-indirect-provider", "--json")
    # Graph's second page fails beyond the retries: every other page arrived, none is recorded.
    healthy = replay.routes[GDAP_PATH]
    down = Answer(
        503, {"error": {"code": "ServiceUnavailable", "message": "try later"}}, {"Retry-After": "0"}
    )
    replay.routes[GDAP_PATH] = lambda seen: down if "$skiptoken" in seen.path else healthy(seen)
    failed = ledger_sync(replay, url, *options, "--retries", "1")
    assert failed.returncode == 1
    assert orjson.loads(failed.stdout)["error"]["message"].startswith(
        "Microsoft Graph answered GET https://localhost:"
    )
    assert any(s.path == "/v1/customers" for s in replay.api())  # downloaded before, yet not recorded
    with Ledger(url) as nothing:
        assert nothing.head() == 0

    # The next sync, the service healthy again, completes: the fixtures' whole world.
    replay.routes[GDAP_PATH] = healthy
    first = ledger_sync(replay, url, *options)
    # Nothing refused: the fixtures' transfer to Adatum comes with the relationship it implies.
    assert first.returncode == 0, first
    answer = orjson.loads(first.stdout)
    assert [s for s in answer["skipped"] if s["rule"]] == []
    assert answer["sources"]["pc-audit"]["pages"] == 4  # two for the first window, one each for the others
    assert answer["sources"]["graph-gdap"]["pages"] == 2
    assert answer["sources"]["pc-subscriptions"]["pages"] == 5  # one per customer, two for Wingtip's two
    assert answer["audit"]["windows"] == 3 and answer["audit"]["from"] == "90 days back"

    files = [
        (source, [(f"{source}.pages.json", (FIXTURES / f"{source}.pages.json").read_bytes())])
        for source in ORDER
    ]
    with Ledger(fresh_url) as fresh:
        ingested = ingest_sources(fresh, files, Context(PROVIDER, program="csp-indirect-provider"))
        expected = _content(fresh.stored())
    with Ledger(url) as synced:
        assert _content(synced.stored()) == expected
        assert answer["recorded"] == ingested.recorded == synced.head()
    assert len(answer["skipped"]) == len(ingested.skipped)

    again = ledger_sync(replay, url, *options)
    assert again.returncode == 0, again
    repeated = orjson.loads(again.stdout)
    assert repeated["recorded"] == 0 and repeated["already_recorded"] >= answer["recorded"]
    assert len(repeated["skipped"]) == len(answer["skipped"])
    with Ledger(url) as synced:
        assert synced.head() == answer["recorded"]  # nothing twice
    # From where the ledger's audit history stops: in 2024, so long gone from Partner Center.
    assert repeated["audit"]["from"] == "the ledger"
    assert repeated["audit"]["last_ingested"].startswith("2024-")
    assert repeated["audit"]["lost_before"] == repeated["audit"]["start"]
    for done in (first, again):
        assert SECRET not in done.stdout + done.stderr
