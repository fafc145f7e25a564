"""The ``ledger`` command: parse, call the ledger, render. No domain logic lives here.

The commands are defined in ``_transfer`` (import, export), ``_ingest`` (ingest), ``_queries``
(por, delegations, customer, history), ``_lists`` (customers, partners, subscriptions, show),
``_audit`` (report, verify, rebuild), ``_evidence`` (keygen, checkpoint, prove, check), ``_demo``
(demo), ``_rulebook`` (rules) and ``_record`` (record), and a command line loads the one module
that defines the command it names (``_app_for``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib import import_module
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer._click.core import Command, Context, Parameter, ParameterSource  # typer's own click
from typer.core import TyperGroup, TyperOption
from typer.exceptions import TyperException

from ledger import DEFAULT_WAIT, MAX_WAIT, BadInput

from ._output import err, fail

if TYPE_CHECKING:
    app: typer.Typer  # see __getattr__

_APP_SETTINGS: dict[str, Any] = {
    "name": "ledger",
    "help": (
        "The relationship ledger: an append-only, tamper-evident record of who may sell, "
        "manage and support a customer's Microsoft cloud subscriptions.\n\n"
        "Examples:\n\n"
        "    ledger --db sqlite:///demo.db demo\n"
        "    ledger --db sqlite:///demo.db customer contoso --as-of 2019-06-30"
    ),
    "no_args_is_help": True,
    "add_completion": True,
    "pretty_exceptions_enable": False,
}
# The module that defines each command, in the order ``ledger --help`` lists them (after
# ``record``'s group, the first).
_COMMANDS = {
    "import": "_transfer",
    "export": "_transfer",
    "ingest": "_ingest",
    "sync": "_sync",
    "por": "_queries",
    "delegations": "_queries",
    "customer": "_queries",
    "history": "_queries",
    "customers": "_lists",
    "partners": "_lists",
    "subscriptions": "_lists",
    "show": "_lists",
    "report": "_audit",
    "verify": "_audit",
    "rebuild": "_audit",
    "keygen": "_evidence",
    "checkpoint": "_evidence",
    "prove": "_evidence",
    "check": "_evidence",
    "demo": "_demo",
    "rules": "_rulebook",
}
_GLOBAL_OPTIONS = ("--db", "--wait")  # each takes a value
# The global options; ``app`` (the whole command) adds every command on first use.
_app = typer.Typer(**_APP_SETTINGS)


def _whole() -> typer.Typer:
    """``app``: ``_app`` with every command and ``record``'s group."""
    if not _app.registered_commands:
        from ._record import record_app

        _app.add_typer(record_app)
        for module in dict.fromkeys(_COMMANDS.values()):
            _register(_app, module)
    return _app


def _register(app: typer.Typer, module: str) -> None:
    """Add the commands that ``module`` defines to ``app``."""
    import_module(f"{__package__}.{module}").register(app)


def __getattr__(name: str) -> object:
    """``app``, the whole ``ledger`` command, is completed on first use; ``main`` takes
    only what a command line needs (``_app_for``)."""
    if name == "app":
        return _whole()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


FIRST = "record"  # the command ``ledger --help`` lists first: what a day's work starts with
DB_HELP = (
    "The store: sqlite:///FILE.db, or postgresql://USER@HOST:PORT/DB (USER:PASSWORD@ with a "
    "password; ?schema=NAME for a schema). Default: sqlite:///ledger.db in the working directory. "
    "Given before or after the command."
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"ledger {version('relationship-ledger')}")
        raise typer.Exit()


def _check_wait(value: int) -> int:
    if not 1 <= value <= MAX_WAIT:
        raise typer.BadParameter(f"{value} is not in the range 1<=x<={MAX_WAIT}.")
    return value


@_app.callback()
def main_options(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option("--db", envvar="LEDGER_DB", metavar="URL", help=DB_HELP, show_default=False),
    ] = None,
    wait: Annotated[
        int,
        typer.Option(
            "--wait",
            envvar="LEDGER_WAIT",
            callback=_check_wait,
            metavar="SECONDS",
            help=(
                "How long a write waits for another writer (a long import) to finish before "
                f"it gives up, in seconds (1 to {MAX_WAIT})."
            ),
        ),
    ] = DEFAULT_WAIT,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit."),
    ] = False,
) -> None:
    ctx.obj = {
        "db": db,
        "wait": wait,
        "db_given": ctx.get_parameter_source("db") is ParameterSource.COMMANDLINE,
    }


def _db_given(ctx: Context, _param: Parameter, value: str | None) -> None:
    """``--db`` after the command: the store, as if given before it."""
    if value is not None:
        ctx.ensure_object(dict).update(db=value, db_given=True)


def _finished(command: Command) -> Command:
    """``command`` (the whole ``ledger``, or what ``_app_for`` took) as people meet it: every
    command and group under it also takes ``--db`` (after its name, as before it), and its
    help reads as written (``_reflow``)."""
    if isinstance(command, TyperGroup) and FIRST in command.commands:  # typer lists groups last
        command.commands = {FIRST: command.commands[FIRST], **command.commands}
    for sub in _walk(command):
        sub.help = _reflow(sub.help)
        if sub is not command and not any(p.name == "db" for p in sub.params):
            option = TyperOption(
                param_decls=["--db"],
                type=str,
                expose_value=False,
                callback=_db_given,
                metavar="URL",
                help=DB_HELP,
                show_default=False,
            )
            sub.params.insert(max(len(sub.params) - 1, 0), option)  # before --json / the last
    return command


def _walk(command: Command) -> list[Command]:
    found = [command]
    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            found += _walk(sub)
    return found


def _reflow(text: str | None) -> str | None:
    """Help text with each paragraph one line, as rich then wraps it to the terminal (typer
    keeps a docstring's line breaks after its first paragraph); a paragraph of indented
    lines (an example) stays as written."""
    if text is None:
        return None
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    return "\n\n".join(
        p if all(line.startswith(" ") for line in p.splitlines()) else " ".join(p.split()) for p in paragraphs
    )


def _app_for(args: Sequence[str]) -> typer.Typer:
    """What parses ``args``: ``app``, or where they name a command after the global options,
    an app of ``app``'s callback and that one command (or group). Typer builds the options of
    every registered command on each start, ``record``'s typed subcommands above all; a
    command never reaches the others, so its options, help and errors are the same, and it
    starts sooner (nor does it load what only the others need: ``record`` the event types,
    ``por`` the store's write side and eventsourcing). Anything else (help, an unknown
    command, an unknown option) takes ``app``."""
    words = iter(args)
    for word in words:
        if word in _GLOBAL_OPTIONS:
            next(words, None)
        elif not word.startswith(tuple(f"{option}=" for option in _GLOBAL_OPTIONS)):
            break
    else:
        return _whole()
    lean = typer.Typer(**_APP_SETTINGS)
    lean.registered_callback = _app.registered_callback
    if word == "record":
        from ._record import record_app

        lean.add_typer(record_app)
        return lean
    module = _COMMANDS.get(word)
    if module is not None:
        defined = typer.Typer()
        _register(defined, module)
        for info in defined.registered_commands:
            callback = info.callback
            if callback is not None and word == (info.name or typer.main.get_command_name(callback.__name__)):
                lean.registered_commands = [info]
                return lean
    return _whole()


def main() -> None:
    """The console script: usage errors are bad input too, as JSON under ``--json``."""
    try:
        args = sys.argv[1:]
        if args[-1:] == ["-h"]:  # -h, last: --help (not a help option: its column would cut help text)
            args = [*args[:-1], "--help"]
        command = _finished(typer.main.get_command(_app_for(args)))
        code = command(args, standalone_mode=False)
    except TyperException as exc:  # a bad option or argument, an unknown command
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError":  # plain `ledger`: the help, as click shows it
            exc.show()  # type: ignore[attr-defined]
            raise SystemExit(exc.exit_code) from None
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        from ledger import redact  # the message may repeat an argument: a URL with a password

        message = redact(exc.format_message())
        raise SystemExit(fail(BadInput("", message + hint), "--json" in sys.argv).exit_code) from None
    except typer.Abort:
        err.print("Aborted.")
        raise SystemExit(1) from None
    raise SystemExit(code if isinstance(code, int) else 0)
