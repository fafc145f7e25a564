"""``ledger record``: one event, as JSON text or as one typed option per field.

The typed subcommands are generated from ``ledger.EVENT_TYPES``, the one definition of
every event type, so the options can never drift from what the ledger accepts. Every
option is optional to the parser; the ledger's own validation names what is missing, so
errors read the same (and come as JSON with ``--json``) whichever way an event is given.
"""

from __future__ import annotations

import inspect
import sys
from typing import Annotated, Any

import typer

from ledger import EVENT_TYPES, ROLES, BadInput, EventType, Receipt, parse_event, parse_event_json, read_event

from ._options import JsonOption, open_ledger
from ._output import emit_json, out, reporting, said_warnings

record_app = typer.Typer(
    name="record",
    help=(
        "Record one event. Give it as JSON with --event (or --event - to read standard input), "
        "or as `ledger record TYPE --field value ...` with one option per field."
    ),
    invoke_without_command=True,
    no_args_is_help=False,
)


def _print_receipt(event_type: str, receipt: Receipt, as_json: bool, warned: list[str]) -> None:
    if as_json:
        emit_json({**receipt.to_json(), "warnings": warned} if warned else receipt.to_json())
    elif receipt.duplicate:
        out.print(
            f"Already stored: {event_type} {receipt.event_id} is at position {receipt.position}; "
            "nothing written."
        )
    else:
        out.print(
            f"Recorded {event_type} at position {receipt.position} "
            f"(event {receipt.event_id}, hash {receipt.hash[:12]})."
        )


@record_app.callback()
def record(
    ctx: typer.Context,
    event: Annotated[
        str | None,
        typer.Option("--event", "-e", help="The event as JSON text; - reads it from standard input."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    if ctx.invoked_subcommand is not None:
        if event is not None:
            with reporting(as_json):
                raise BadInput("event", "give either --event or a TYPE with its options, not both")
        return
    with reporting(as_json):
        if event is None:
            raise BadInput("event", "is missing: give --event JSON, --event -, or a TYPE (see --help)")
        text = read_event(sys.stdin.buffer) if event == "-" else event
        parsed = parse_event_json(text)
        with said_warnings() as warned, open_ledger(ctx) as ledger:
            receipt = ledger.record(parsed)
        _print_receipt(parsed.type, receipt, as_json, warned)


def _option_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def _role_help(event_type: EventType) -> str:
    """The roles that may record this type (rule eligible-role), and the vocabulary."""
    only = event_type.roles_only_for
    always = sorted(event_type.roles - frozenset().union(*only.values()))
    eligible = ", ".join(
        [*always, *(f"{role} (a {kind} only)" for kind, roles in only.items() for role in sorted(roles))]
    )
    return (
        f"The recorder's role (required). May record {event_type.name}: {eligible}. The other roles "
        f"({', '.join(r for r in ROLES if r not in event_type.roles)}) are refused by the rule "
        "eligible-role."
    )


def _typed_command(event_type: EventType) -> Any:
    def command(ctx: typer.Context, **options: Any) -> None:
        as_json = bool(options.pop("as_json"))
        with reporting(as_json):
            data = {
                f.name: (list(options[f.name]) if f.kind in ("ids", "texts") else options[f.name])
                for f in event_type.fields
                if options[f.name] not in (None, [], ())
            }
            actor = {
                k: v
                for k, v in (
                    ("id", options["actor_id"]),
                    ("role", options["actor_role"]),
                    ("tenant_id", options["actor_tenant_id"]),
                )
                if v is not None
            }
            obj: dict[str, Any] = {"type": event_type.name, "actor": actor, "data": data}
            for key in ("effective_at", "event_id", "note"):
                if options[key] is not None:
                    obj[key] = options[key]
            parsed = parse_event(obj)
            with said_warnings() as warned, open_ledger(ctx) as ledger:
                receipt = ledger.record(parsed)
            _print_receipt(parsed.type, receipt, as_json, warned)

    def opt(name: str, help: str, *, many: bool = False) -> inspect.Parameter:
        annotation = list[str] | None if many else str | None
        return inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[annotation, typer.Option(_option_name(name), help=help, show_default=False)],
        )

    params = [
        inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context),
        opt("effective_at", "When it happened in the world: RFC 3339 with an offset (required)."),
        opt("actor_id", "Who records it, e.g. alice@fabrikam.example (required)."),
        opt("actor_role", _role_help(event_type)),
        opt("actor_tenant_id", "The tenant the recorder acts for (required)."),
    ]
    for f in event_type.fields:
        help = f.help
        if f.choices:
            help += f"; one of {', '.join(f.choices)}"
        if f.kind in ("ids", "texts"):
            help += "; repeat the option for each item"
        if f.kind == "time":
            help += "; RFC 3339 with an offset"
        help += " (required)." if f.required else " (optional)."
        params.append(opt(f.name, help, many=f.kind in ("ids", "texts")))
    params += [
        opt("event_id", "A UUID for the event, its idempotency key (generated when absent)."),
        opt("note", "Free text: a ticket, a Partner Center audit record id."),
        inspect.Parameter(
            "as_json",
            inspect.Parameter.KEYWORD_ONLY,
            default=False,
            annotation=JsonOption,
        ),
    ]
    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__name__ = event_type.name.replace(".", "_").replace("-", "_")
    command.__doc__ = event_type.help
    return command


for _event_type in EVENT_TYPES.values():
    record_app.command(name=_event_type.name, help=_event_type.help)(_typed_command(_event_type))
