"""Rendering: plain sentences and tables for people, JSON for scripts, errors for both."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
import typer

from ledger import LedgerError

if TYPE_CHECKING:
    from rich.console import Console

T = TypeVar("T")


class LazyConsole:
    """A rich ``Console`` on standard output or standard error, made on first use: rich is
    loaded by the output that needs it (tables and text for people), not by every start
    (``--json`` answers need none)."""

    def __init__(self, stderr: bool = False) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    @property
    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            if self._stderr:
                self._console = Console(stderr=True, highlight=False, soft_wrap=True)
            else:
                self._console = Console(highlight=False, soft_wrap=True, width=_out_width())
        return self._console

    def print(self, *objects: Any, **options: Any) -> None:
        """``Console.print``."""
        self.console.print(*objects, **options)


def _out_width() -> int | None:
    """Standard output's width: a terminal's own; piped, tables are not cut to 80 columns
    but stay one row per line for files and scripts."""
    return None if sys.stdout.isatty() else 200


out = LazyConsole()
err = LazyConsole(stderr=True)


def emit_json(value: Any) -> None:
    sys.stdout.buffer.write(orjson.dumps(value) + b"\n")
    sys.stdout.flush()


def fail(error: LedgerError, as_json: bool) -> typer.Exit:
    """Report ``error`` as the contract says and return the exit to raise."""
    if as_json:
        emit_json(error.to_json())
    else:
        where = f" (line {error.line})" if error.line is not None else ""
        rule = f" [rule {error.rule}]" if error.rule else ""
        err.print(f"error: {error.message}{where}{rule}", markup=False)
    return typer.Exit(error.exit_code)


@contextmanager
def reporting(as_json: bool) -> Iterator[None]:
    """Run a command body; a ``LedgerError`` becomes its message and exit code."""
    try:
        yield
    except LedgerError as error:
        raise fail(error, as_json) from None


@contextmanager
def said_warnings() -> Iterator[list[str]]:
    """The ledger's warnings (``LedgerWarning``: a clock behind the ledger's newest recorded
    time) given in the body: collected into the list yielded, for a ``--json`` answer's
    ``warnings``, and each printed on standard error as ``warning: …`` when the body ends.
    Other warnings are shown as Python would have shown them."""
    import warnings

    from ledger import LedgerWarning

    said: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LedgerWarning)
        try:
            yield said
        finally:
            for warning in caught:
                if issubclass(warning.category, LedgerWarning):
                    said.append(str(warning.message))
                    err.print(f"warning: {warning.message}", markup=False)
                else:
                    warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)


def guarded(as_json: bool, body: Callable[[], T]) -> T:
    with reporting(as_json):
        return body()


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on a terminal (standard error); nothing otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err.console,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def advance(done: int, total: int) -> None:  # total 0: not known (standard input)
            if done % 500 == 0 or done == total:
                bar.update(task, completed=done, total=total or None)

        yield advance
