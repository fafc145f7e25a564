"""The ``ledger`` command: parse, call the ledger, render. No domain logic lives here.

The commands are defined in ``_transfer`` (import, export), ``_queries`` (por, delegations,
customer, history), ``_audit`` (report, verify, rebuild), ``_evidence`` (keygen, checkpoint,
prove, check), ``_demo`` (demo), ``_rulebook`` (rules) and ``_record`` (record), and a command
line loads the one module that defines the command it names (``_app_for``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib import import_module
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.exceptions import TyperException

from ledger import DEFAULT_WAIT, MAX_WAIT, BadInput

from ._output import err, fail

if TYPE_CHECKING:
    app: typer.Typer  # see __getattr__

_APP_SETTINGS: dict[str, Any] = {
    "name": "ledger",
    "help": (
        "The relationship ledger: an append-only, tamper-evident record of who may sell, "
        "manage and support a customer's Microsoft cloud subscriptions."
    ),
    "no_args_is_help": True,
    "add_completion": False,
    "pretty_exceptions_enable": False,
}
# The module that defines each command, in the order ``ledger --help`` lists them (then
# ``record``'s group).
_COMMANDS = {
    "import": "_transfer",
    "export": "_transfer",
    "por": "_queries",
    "delegations": "_queries",
    "customer": "_queries",
    "history": "_queries",
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
        for module in dict.fromkeys(_COMMANDS.values()):
            _register(_app, module)
        from ._record import record_app

        _app.add_typer(record_app)
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


@_app.callback()
def main_options(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar="LEDGER_DB",
            help=(
                "The store: sqlite:///path/to/file.db or "
                "postgresql://user:password@host:port/dbname[?schema=NAME]. "
                "Default: sqlite:///ledger.db in the working directory."
            ),
            show_default=False,
        ),
    ] = None,
    wait: Annotated[
        int,
        typer.Option(
            "--wait",
            envvar="LEDGER_WAIT",
            min=1,
            max=MAX_WAIT,
            metavar="SECONDS",
            help=(
                "How long a write waits for another writer (a long import) to finish before "
                "it gives up, in seconds."
            ),
        ),
    ] = DEFAULT_WAIT,
) -> None:
    ctx.obj = {"db": db, "wait": wait}


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
        code = _app_for(sys.argv[1:])(standalone_mode=False)
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
