"""Output for people: rich tables of the contract's JSON answers (the same data ``--json`` prints).

Every cell and title is a plain string: the console shows it as it is (``_output.visible``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ledger import narration

from ._output import FittedTable, emit_csv, out, styled, table, visible


def _dash(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _table(title: str | None, columns: Iterable[str], rows: Iterable[Iterable[object]]) -> FittedTable:
    """A table that fits the terminal (``_output.table``), each value as ``_dash`` shows it."""
    return table(title, list(columns), [[_dash(v) for v in row] for row in rows])


POR_COLUMNS = (
    "subscription",
    "offer",
    "service",
    "channel",
    "status",
    "partner of record",
    "billing",
    "since",
)


def status(p: Mapping[str, Any]) -> str:
    """A subscription's status with what an auditor asks next: when it was cancelled, and
    its licence's term, ended or not by the time asked about ("active, term ended
    2020-03-01T00:00:00Z"): each time whole, as every other time is shown."""
    said = str(p["status"])
    if p.get("cancelled_at") is not None:
        said += f" {p['cancelled_at']}"
    if p.get("term_end") is not None:
        said += f", term {'ended' if p.get('term_ended') else 'ends'} {p['term_end']}"
    return said


def por_row(p: Mapping[str, Any]) -> list[object]:
    return [
        p["subscription_id"],
        p["offer"],
        p["service"],
        p["channel"],
        status(p),
        p["partner_of_record"],
        p["billing_partner"],
        p["since"],
    ]


def show_por(p: Mapping[str, Any]) -> None:
    out.print(
        _table(
            f"Partner of record as of {p['as_of']} (customer {p['customer_id']})", POR_COLUMNS, [por_row(p)]
        )
    )


DELEGATION_COLUMNS = ("delegation", "partner", "kind", "roles", "granted", "expires", "auto-extend")


def _auto_extend(value: str | None) -> str | None:
    return "180 days" if value == "P180D" else value


def _roles(roles: Sequence[str]) -> str:
    """Roles by name where the id is a well-known Entra role."""
    return narration.roles_text(roles)


def _delegation_rows(delegations: Iterable[Mapping[str, Any]]) -> list[list[object]]:
    return [
        [
            d["delegation_id"],
            d["partner_id"],
            d["kind"],
            _roles(d["roles"]),
            d["granted_at"],
            d["expires_at"],
            _auto_extend(d.get("auto_extend")) if d["kind"] == "gdap" else None,
        ]
        for d in delegations
    ]


REQUEST_COLUMNS = ("delegation", "partner", "name", "roles", "duration", "auto-extend", "requested", "lapses")


def _request_rows(requests: Iterable[Mapping[str, Any]]) -> list[list[object]]:
    return [
        [
            r["delegation_id"],
            r["partner_id"],
            r["name"],
            _roles(r["roles"]),
            r["duration"],
            _auto_extend(r["auto_extend"]),
            r["requested_at"],
            r["lapses_at"],
        ]
        for r in requests
    ]


def _show_delegations(title: str, delegations: Sequence[Mapping[str, Any]]) -> None:
    if delegations:
        out.print(_table(title, DELEGATION_COLUMNS, _delegation_rows(delegations)))
    else:
        out.print(f"{title}: none active.")


def show_delegations(answer: Mapping[str, Any]) -> None:
    _show_delegations(
        f"Delegations of {answer['customer_id']} as of {answer['as_of']}", answer["delegations"]
    )


def _show_or_none(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A section of ``customer``: its table, or "none" where it has no rows (not an empty table)."""
    out.print(_table(title, columns, rows) if rows else f"{title}: none.")


def show_customer(c: Mapping[str, Any]) -> None:
    out.print(styled((c["name"], "bold"), f" ({c['customer_id']}, cloud {c['cloud']}) as of {c['as_of']}"))
    _show_or_none("Subscriptions", POR_COLUMNS, [por_row(p) for p in c["subscriptions"]])
    _show_or_none(
        "Reseller relationships",
        ("partner", "request", "reseller", "accepted"),
        [[r["partner_id"], r["request_id"], r["reseller_id"], r["accepted_at"]] for r in c["relationships"]],
    )
    _show_delegations("Delegations", c["delegations"])
    if c.get("requests"):
        out.print(_table("GDAP requests pending approval", REQUEST_COLUMNS, _request_rows(c["requests"])))


def summary(event: Mapping[str, Any]) -> str:
    """The event's data in one short line: ``key=value`` pairs."""
    return " ".join(f"{k}={_dash(v)}" for k, v in event["data"].items())


HISTORY_COLUMNS = ("pos", "effective", "recorded", "type", "actor", "data", "note", "hash")


def history_row(e: Mapping[str, Any]) -> list[object]:
    """One stored event as ``history`` shows it: when it happened and when the ledger
    recorded it (a late recording shows as such), who recorded it, its data and its note."""
    return [
        e["position"],
        e["effective_at"],
        e["recorded_at"],
        e["type"],
        f"{e['actor']['id']} ({e['actor']['role']})",
        summary(e),
        e.get("note"),
        e["hash"][:12],
    ]


def show_history(events: Sequence[Mapping[str, Any]]) -> None:
    rows = [history_row(e) for e in events]
    out.print(_table(None, HISTORY_COLUMNS, rows))
    out.print(f"{len(rows)} events.")


ALL_CLOUDS = 4  # an edition in force in every cloud lists them all (``ledger rules --json``)


def _period(since: str | None, until: str | None) -> str:
    if since is None and until is None:
        return "always"
    if until is None:
        return f"from {since}"
    if since is None:
        return f"before {until}"
    return f"from {since} until {until}"


def _cell(value: str) -> str:
    """``value`` as one Markdown table cell: shown as ``visible`` shows it, a bar escaped."""
    return visible(value).replace("|", "\\|")


def rules_markdown(answer: Mapping[str, Any]) -> str:
    """The rulebook as Markdown: for each rule a heading with its id and summary, and a table
    of its editions with the same columns as ``show_rules``."""
    parts = []
    for rule in answer["rules"]:
        rows = [
            "| edition | in force | clouds | what it says | source |",
            "|---|---|---|---|---|",
        ]
        for e in rule["editions"]:
            clouds = "all" if len(e["clouds"]) == ALL_CLOUDS else ", ".join(e["clouds"])
            cells = (e["name"], _period(e["since"], e["until"]), clouds, e["says"], e["source"])
            rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        parts.append("\n".join([f"### `{visible(rule['id'])}`", "", _cell(rule["summary"]), "", *rows]))
    return "\n\n".join(parts) + "\n"


def show_rules(answer: Mapping[str, Any]) -> None:
    """The rulebook: one row per edition, the rule's id and summary on its first."""
    rows: list[list[object]] = []
    for rule in answer["rules"]:
        for n, e in enumerate(rule["editions"]):
            clouds = "all" if len(e["clouds"]) == ALL_CLOUDS else ", ".join(e["clouds"])
            rows.append(
                [
                    rule["id"] if n == 0 else "",
                    e["name"],
                    _period(e["since"], e["until"]),
                    clouds,
                    e["says"],
                    e["source"],
                ]
            )
    columns = ("rule", "edition", "in force", "clouds", "what it says", "source")
    out.print(_table("The rulebook", columns, rows))


# ``--csv``: the JSON answer's own names as the columns, a list's items joined by ``;``.


def _csv_value(value: object) -> object:
    if isinstance(value, bool):
        return "true" if value else "false"
    return ";".join(str(v) for v in value) if isinstance(value, list) else value


HISTORY_CSV = (
    "position",
    "event_id",
    "type",
    "effective_at",
    "recorded_at",
    "actor_id",
    "actor_role",
    "actor_tenant_id",
    "data",
    "note",
    "hash",
    "prev_hash",
)


def history_csv(events: Iterable[Mapping[str, Any]]) -> None:
    """``history --csv``: one line per event, its data as the JSON ``export`` writes."""
    import orjson

    emit_csv(
        HISTORY_CSV,
        (
            [
                e["position"],
                e["event_id"],
                e["type"],
                e["effective_at"],
                e["recorded_at"],
                e["actor"]["id"],
                e["actor"]["role"],
                e["actor"].get("tenant_id"),
                orjson.dumps(e["data"]).decode(),
                e.get("note"),
                e["hash"],
                e["prev_hash"],
            ]
            for e in events
        ),
    )


DELEGATION_CSV = ("delegation_id", "partner_id", "kind", "roles", "granted_at", "expires_at", "auto_extend")


def delegations_csv(answer: Mapping[str, Any]) -> None:
    """``delegations --csv``: one line per active delegation, with its customer."""
    emit_csv(
        ("customer_id", *DELEGATION_CSV),
        ([answer["customer_id"], *(_csv_value(d[k]) for k in DELEGATION_CSV)] for d in answer["delegations"]),
    )


# ``customer --csv``: each thing of the answer's lists on a line, named by its section, under
# the same columns whatever the customer holds: every key of the four lists (a thing leaves
# the others' empty).
CUSTOMER_SECTIONS = (
    ("subscriptions", "subscription"),
    ("relationships", "relationship"),
    ("delegations", "delegation"),
    ("requests", "request"),
)
CUSTOMER_CSV = (
    "subscription_id",
    "offer",
    "service",
    "channel",
    "status",
    "cancelled_at",
    "term_end",
    "term_ended",
    "partner_of_record",
    "billing_partner",
    "seller_id",
    "since",
    "migrated_from",
    "request_id",
    "delegation_id",
    "partner_id",
    "reseller_id",
    "accepted_at",
    "kind",
    "name",
    "roles",
    "duration",
    "auto_extend",
    "requested_at",
    "lapses_at",
    "granted_at",
    "expires_at",
)


def customer_csv(c: Mapping[str, Any]) -> None:
    """``customer --csv``: its subscriptions, relationships, delegations and pending GDAP
    requests, one line each (``CUSTOMER_CSV``), as of the answer's time."""
    things = [(name, thing) for key, name in CUSTOMER_SECTIONS for thing in c.get(key, [])]
    emit_csv(
        ("section", "customer_id", "as_of", *CUSTOMER_CSV),
        (
            [name, c["customer_id"], c["as_of"], *(_csv_value(thing.get(k)) for k in CUSTOMER_CSV)]
            for name, thing in things
        ),
    )
