"""``ledger record``: one event, as JSON text or as one typed option per field.

The typed subcommands are generated from ``ledger.EVENT_TYPES``, the one definition of
every event type, so the options can never drift from what the ledger accepts. Every
option is optional to the parser; the ledger's own validation names what is missing, so
errors read the same (and come as JSON with ``--json``) whichever way an event is given.
"""

from __future__ import annotations

import inspect
import re
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ledger import (
    EVENT_TYPES,
    ROLES,
    BadInput,
    EventType,
    Receipt,
    RuleViolation,
    parse_event,
    parse_event_json,
    read,
    read_event,
)

from . import _actor
from ._options import JsonOption, QuietOption, db_url, open_ledger
from ._output import emit_json, out, reporting, said_warnings

if TYPE_CHECKING:
    from ledger import Field

EXAMPLE_TIME = "2024-06-15T09:00:00Z"
record_app = typer.Typer(
    name="record",
    help=(
        "Record one event. Give it as JSON with --event (or --event - to read standard input), "
        "or as `ledger record TYPE --field value ...` with one option per field.\n\n"
        f"{_actor.PRECEDENCE}\n\n"
        "Examples:\n\n"
        f"    ledger record customer.registered --effective-at {EXAMPLE_TIME} \\\n"
        "        --customer-id contoso --name Contoso --cloud commercial\n"
        "    ledger record --event - < event.json"
    ),
    invoke_without_command=True,
    no_args_is_help=False,
)


def _print_receipt(event_type: str, receipt: Receipt, as_json: bool, warned: list[str], quiet: bool) -> None:
    if quiet:
        return
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
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    if ctx.invoked_subcommand is not None:
        if quiet:  # ``record --quiet TYPE …``: for the typed command too
            ctx.ensure_object(dict)["quiet"] = True
        if event is not None:
            with reporting(as_json):
                raise BadInput("event", "give either --event or a TYPE with its options, not both")
        return
    with reporting(as_json):
        if event is None:
            raise BadInput("event", "is missing: give --event JSON, --event -, or a TYPE (see --help)")
        text = read_event(sys.stdin.buffer) if event == "-" else event
        parsed = parse_event_json(text)
        with said_warnings() as warned, _near_ids(ctx), open_ledger(ctx) as ledger:
            receipt = ledger.record(parsed)
        _print_receipt(parsed.type, receipt, as_json, warned, quiet)


# What the rule known-references says of an id no event names (``ledger._facts``).
_UNKNOWN_ID = re.compile(r"(partner|customer|subscription) (\S+) is not (?:registered|live) at ")


@contextmanager
def _near_ids(ctx: typer.Context) -> Iterator[None]:
    """Record in the body; where the rule known-references refuses an id the ledger has never
    seen, its error says which known ids are spelled like it ("did you mean …")."""
    try:
        yield
    except RuleViolation as violation:
        unknown = _UNKNOWN_ID.match(violation.reason) if violation.rule == "known-references" else None
        near = read.similar_ids(db_url(ctx), unknown[1], unknown[2]) if unknown else []
        if not near:
            raise
        reason = f"{violation.reason}; did you mean {' or '.join(near)}?"
        raise RuleViolation(str(violation.rule), reason, edition=violation.edition) from None


def _option_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def _named_as_typed(error: BadInput, sources: dict[str, str]) -> BadInput:
    """``error`` with each field at fault named as the user gave it: its option
    (``data.customer_id``: ``--customer-id``; ``data.roles[1]``: ``--roles (item 2)``), or for
    an actor field taken from elsewhere, that place (``sources``)."""

    def name(path: str) -> str:
        head, bracket, index = path.partition("[")
        option = sources.get(head) or _option_name(head.removeprefix("data.").replace("actor.", "actor_"))
        return f"{option} (item {int(index.rstrip(']')) + 1})" if bracket and index[:-1].isdigit() else option

    def reason(path: str, text: str) -> str:
        if path.startswith("actor.") and text == "is missing":
            field = path.removeprefix("actor.")
            return f"is missing (or set {_actor.env_name(field)}, or actor.{field} in ledger.toml)"
        return text

    return BadInput.combined(
        [BadInput(name(p.field), reason(p.field, p.reason)) if p.field else p for p in error.problems]
    )


def eligible_roles(event_type: EventType) -> list[str]:
    """The roles that may record events of this type, in ``ROLES``' order."""
    return [role for role in ROLES if role in event_type.roles]


def _example_value(f: Field) -> str:
    if f.kind == "time":
        return EXAMPLE_TIME
    if f.kind == "choice":
        return f.choices[0]
    if f.kind == "text" or f.kind == "texts":
        given = re.search(r"e\.g\. '?([^',)]+)", f.help)  # the field's own example, if it gives one
        if given:
            return given.group(1)
        return f.name.replace("_", "-") + "-1" if f.name != "name" else "Contoso"
    return f.name.removesuffix("_ids").removesuffix("_id").replace("_", "-") + "-1"


def example(event_type: EventType) -> str:
    """A command line recording one event of this type: its required fields, and those its
    checks across fields ask for with the first choices; the actor is left to the defaults."""
    fields = {f.name: f for f in event_type.fields}
    given = {name: f for name, f in fields.items() if f.required}
    for _ in fields:  # add what a check across fields asks for, until the event parses
        data = {
            n: [_example_value(f)] if f.kind in ("ids", "texts") else _example_value(f)
            for n, f in given.items()
        }
        actor = {"id": "ops@example.com", "role": eligible_roles(event_type)[0], "tenant_id": "t-1"}
        try:
            parse_event({"type": event_type.name, "effective_at": EXAMPLE_TIME, "actor": actor, "data": data})
            break
        except BadInput as error:
            wanted = [p.field.removeprefix("data.") for p in error.problems]
            if not all(name in fields and name not in given for name in wanted):
                break
            given.update({name: fields[name] for name in wanted})
    words = ["ledger", "record", event_type.name, "--effective-at", EXAMPLE_TIME]
    for name, f in given.items():
        words += [_option_name(name), _example_value(f)]
    return " ".join(shlex.quote(w) for w in words)


def _role_help(event_type: EventType, default: str) -> str:
    """The roles that may record this type (rule eligible-role), only those (issue 16.9)."""
    only = event_type.roles_only_for
    always = sorted(event_type.roles - frozenset().union(*only.values()))
    eligible = ", ".join(
        [*always, *(f"{role} (a {kind} only)" for kind, roles in only.items() for role in sorted(roles))]
    )
    return (
        f"The recorder's role (required). May record {event_type.name}: {eligible}. "
        f"Any other role is refused by the rule eligible-role. {default[0].upper()}{default[1:]}."
    )


def _typed_command(event_type: EventType) -> Any:
    def command(ctx: typer.Context, **options: Any) -> None:
        as_json = bool(options.pop("as_json"))
        quiet = bool(options.pop("quiet")) or bool(ctx.obj and ctx.obj.get("quiet"))
        with reporting(as_json):
            data = {
                f.name: (list(options[f.name]) if f.kind in ("ids", "texts") else options[f.name])
                for f in event_type.fields
                if options[f.name] not in (None, [], ())
            }
            given = _actor.actor(db_url(ctx), {f: options[f"actor_{f}"] for f in _actor.FIELDS})
            actor = {field: g.value for field, g in given.items()}
            obj: dict[str, Any] = {"type": event_type.name, "actor": actor, "data": data}
            for key in ("effective_at", "event_id", "note"):
                if options[key] is not None:
                    obj[key] = options[key]
            try:
                parsed = parse_event(obj)
            except BadInput as error:
                raise _named_as_typed(error, {f"actor.{f}": g.source for f, g in given.items()}) from None
            with said_warnings() as warned, _near_ids(ctx), open_ledger(ctx) as ledger:
                receipt = ledger.record(parsed)
            _print_receipt(parsed.type, receipt, as_json, warned, quiet)

    def opt(name: str, help: str, *, many: bool = False) -> inspect.Parameter:
        annotation = list[str] | None if many else str | None
        return inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[annotation, typer.Option(_option_name(name), help=help, show_default=False)],
        )

    def default(field: str) -> str:
        return f"default: {_actor.env_name(field)} or ledger.toml, see `ledger record --help`"

    params = [
        inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context),
        opt("effective_at", "When it happened in the world: RFC 3339 with an offset (required)."),
        opt("actor_id", f"Who records it, e.g. alice@fabrikam.example (required; {default('id')})."),
        opt("actor_role", _role_help(event_type, default("role"))),
        opt("actor_tenant_id", f"The tenant the recorder acts for (required; {default('tenant_id')})."),
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
        inspect.Parameter("quiet", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=QuietOption),
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
    _help = f"{_event_type.help}\n\nExample:\n\n    {example(_event_type)}"
    record_app.command(name=_event_type.name, help=_help)(_typed_command(_event_type))
