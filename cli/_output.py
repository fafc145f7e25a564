"""Rendering: plain sentences and tables for people, JSON for scripts, errors for both.

Everything printed for people goes through a console that shows every string as it is
(``visible``): never read as rich markup or emoji codes, and with the characters a terminal
would act on (escape sequences, other control characters) shown escaped, so text from an
event or from input (a name, a note, an id in an error message) can neither break the
output nor reach the terminal as a command. Output with styles of its own is built with
``styled``. JSON answers are exact (orjson escapes control characters itself).
"""

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
    from rich.text import Text

T = TypeVar("T")

# What a terminal acts on instead of showing, each spelled as Python escapes it: the C0
# controls (newline and tab too: one row stays one line), DEL, the C1 controls, the Unicode
# line and paragraph separators, and the bidirectional embeddings, overrides, isolates and
# marks (which reorder what is shown).
_ESCAPES = {
    code: repr(chr(code))[1:-1]
    for code in (
        *range(0x20),
        *range(0x7F, 0xA0),
        0x2028,
        0x2029,
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
        0x200E,  # and the implicit marks: left-to-right, right-to-left, Arabic letter
        0x200F,
        0x061C,
    )
}


def visible(text: str) -> str:
    """``text`` as people are shown it: each control character escaped (ESC as ``\\x1b``,
    a newline as ``\\n``), everything else as it is."""
    return text if text.isprintable() else text.translate(_ESCAPES)


def styled(*parts: str | tuple[str, str]) -> Text:
    """A line with styles of its own: each part, text or (text, style), shown as ``visible``
    shows it (never read as markup)."""
    from rich.text import Text

    return Text.assemble(*((visible(p), "") if isinstance(p, str) else (visible(p[0]), p[1]) for p in parts))


def _console(**options: Any) -> Console:
    """A rich ``Console`` that renders every string (printed, or a table's cell or title) as
    ``visible`` shows it, with no markup and no emoji codes, whatever a caller asks."""
    from rich.console import Console

    class VisibleConsole(Console):
        def render_str(self, text: str, **options: Any) -> Text:
            return super().render_str(visible(text), **{**options, "markup": False, "emoji": False})

    return VisibleConsole(**options)


class LazyConsole:
    """A rich ``Console`` (``_console``) on standard output or standard error, made on first
    use: rich is loaded by the output that needs it (tables and text for people), not by
    every start (``--json`` answers need none)."""

    def __init__(self, stderr: bool = False) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    @property
    def console(self) -> Console:
        if self._console is None:
            if self._stderr:
                self._console = _console(stderr=True, highlight=False, soft_wrap=True)
            else:
                self._console = _console(highlight=False, soft_wrap=True, width=_out_width())
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
        err.print(f"error: {error.message}{where}{rule}")
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
                    err.print(f"warning: {warning.message}")
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
