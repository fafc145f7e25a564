"""Output for people: rich tables of the contract's JSON answers (the same data ``--json`` prints).

Every cell and title is a plain string: the console shows it as it is (``_output.visible``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ledger import narration

from ._output import out, styled, visible

if TYPE_CHECKING:
    from rich.table import Table


def _dash(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _table(title: str | None, columns: Iterable[str], rows: Iterable[Iterable[object]]) -> Table:
    from rich.table import Table  # loaded by what prints for people only

    table = Table(title=title, title_justify="left", header_style="bold", show_lines=False)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(_dash(v) for v in row))
    return table


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


def por_row(p: Mapping[str, Any]) -> list[object]:
    return [
        p["subscription_id"],
        p["offer"],
        p["service"],
        p["channel"],
        p["status"],
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


def show_delegations(answer: Mapping[str, Any]) -> None:
    rows = _delegation_rows(answer["delegations"])
    title = f"Delegations of {answer['customer_id']} as of {answer['as_of']}"
    if rows:
        out.print(_table(title, DELEGATION_COLUMNS, rows))
    else:
        out.print(f"{title}: none active.")


def show_customer(c: Mapping[str, Any]) -> None:
    out.print(styled((c["name"], "bold"), f" ({c['customer_id']}, cloud {c['cloud']}) as of {c['as_of']}"))
    out.print(_table("Subscriptions", POR_COLUMNS, [por_row(p) for p in c["subscriptions"]]))
    out.print(
        _table(
            "Reseller relationships",
            ("partner", "request", "reseller", "accepted"),
            [
                [r["partner_id"], r["request_id"], r["reseller_id"], r["accepted_at"]]
                for r in c["relationships"]
            ],
        )
    )
    out.print(_table("Delegations", DELEGATION_COLUMNS, _delegation_rows(c["delegations"])))
    if c.get("requests"):
        out.print(_table("GDAP requests pending approval", REQUEST_COLUMNS, _request_rows(c["requests"])))


def summary(event: Mapping[str, Any]) -> str:
    """The event's data in one short line: ``key=value`` pairs."""
    return " ".join(f"{k}={_dash(v)}" for k, v in event["data"].items())


def show_history(events: Sequence[Mapping[str, Any]]) -> None:
    rows = [
        [
            e["position"],
            e["effective_at"],
            e["type"],
            f"{e['actor']['id']} ({e['actor']['role']})",
            summary(e),
            e["hash"][:12],
        ]
        for e in events
    ]
    out.print(_table(None, ("pos", "effective", "type", "actor", "data", "hash"), rows))
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
