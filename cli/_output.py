"""Rendering: plain sentences and tables for people, JSON for scripts, errors for both.

Everything printed for people goes through a console that shows every string as it is
(``visible``): never read as rich markup or emoji codes, and with the characters a terminal
would act on (escape sequences, other control characters) shown escaped, so text from an
event or from input (a name, a note, an id in an error message) can neither break the
output nor reach the terminal as a command. Output with styles of its own is built with
``styled``. JSON answers are exact (orjson escapes control characters itself).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
import typer

from ledger import LedgerError

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult
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


PIPED_WIDTH = 200  # piped with no COLUMNS: wide, so a table stays one row per line for files and scripts


def _out_width() -> int | None:
    """Standard output's width: ``COLUMNS`` where it is set (on a terminal or piped: the
    user's word on how wide to write), else a terminal's own, else ``PIPED_WIDTH``."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return None if sys.stdout.isatty() else PIPED_WIDTH


out = LazyConsole()
err = LazyConsole(stderr=True)


class FittedTable:
    """A table that fits the width it is printed at, never cutting a word: every command's
    table for people (``table``).

    A cell wraps at its spaces only, and each column is at least as wide as its longest
    word, so an id, a time or a type (none holds a space) is always shown whole; free text
    (a name, a note, roles) wraps onto more lines. Where even those widths do not fit, the
    table folds: one block per row, a ``column: value`` line per cell (a table of two
    columns, names and their values: a ``name: value`` line per row). A line longer than
    the terminal is left to the terminal to wrap, never cut. The title is a line of its
    own above, never cut either."""

    def __init__(self, title: str | None, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        self.title = None if title is None else visible(title)
        self.columns = [visible(column) for column in columns]
        self.rows = [[visible(cell) for cell in row] for row in rows]

    def widths(self, width: int) -> list[int] | None:
        """Each column's width (its text, without padding) in a table at most ``width``
        wide, or None where the table cannot fit without cutting a word."""
        from rich.cells import cell_len

        cells = [[self.columns[i], *(row[i] for row in self.rows)] for i in range(len(self.columns))]
        least = [max(cell_len(word) for text in column for word in [*text.split(), ""]) for column in cells]
        most = [max(cell_len(text) for text in column) for column in cells]
        # Each column's padding (one space a side) and the rules beside it and at both edges.
        room = width - 3 * len(self.columns) - 1
        if sum(least) > room:
            return None
        # From each column's whole text, the widest column gives way first, down to its
        # longest word: short phrases ("before 2020-03-20") stay on one line, long text wraps.
        given = list(most)
        excess = sum(given) - room
        while excess > 0:
            wide = max((i for i in range(len(given)) if given[i] > least[i]), key=lambda i: given[i])
            given[wide] -= 1
            excess -= 1
        return given

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.table import Table
        from rich.text import Text

        if self.title is not None:
            yield Text(self.title, style="italic", no_wrap=True, overflow="ignore")
        widths = self.widths(options.max_width)
        if widths is None and len(self.columns) == 2:  # a table of names and values: one line each
            for name, value in self.rows:
                yield Text(f"{name}: {value}", no_wrap=True, overflow="ignore")
            return
        if widths is None:
            for n, row in enumerate(self.rows):
                if n:
                    yield Text("")
                for column, cell in zip(self.columns, row, strict=True):
                    yield Text(f"{column}: {cell}", no_wrap=True, overflow="ignore")
            return
        table = Table(header_style="bold", show_lines=False, expand=False)
        for column, width in zip(self.columns, widths, strict=True):
            table.add_column(column, width=width, overflow="fold")
        for row in self.rows:
            table.add_row(*row)
        yield table


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> FittedTable:
    """A table for people (``out.print`` it) that fits the terminal: see ``FittedTable``."""
    return FittedTable(title, columns, rows)


def emit_json(value: Any) -> None:
    sys.stdout.buffer.write(orjson.dumps(value) + b"\n")
    sys.stdout.flush()


def fail(error: LedgerError, as_json: bool) -> typer.Exit:
    """Report ``error`` as the contract says and return the exit to raise."""
    if as_json:
        emit_json(error.to_json())
    else:
        where = f" (line {error.line})" if error.line is not None else ""
        # A rule violation's message begins with its rule and edition.
        err.print(f"error: {error.message}{where}")
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
def progress_bar(label: str, *, quiet: bool = False) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on a terminal (standard error); nothing otherwise, nor under ``--quiet``."""
    if quiet or not sys.stderr.isatty():
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


# The characters that make a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(cell: str) -> str:
    """A CSV cell a spreadsheet shows as text: one that a spreadsheet would read as a
    formula (it starts with ``= + - @``, a tab or a carriage return) gets a leading
    apostrophe, as OWASP advises; the rest is as stored (the CSV quotes what it must)."""
    return f"'{cell}" if cell.startswith(_FORMULA_STARTS) else cell


def emit_csv(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """``rows`` as CSV (RFC 4180, a header line first) on standard output, for a spreadsheet:
    None is an empty cell, every other value its text, ``neutralised``."""
    import csv

    writer = csv.writer(sys.stdout)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([neutralised("" if cell is None else str(cell)) for cell in row])
    sys.stdout.flush()


def paged(show: Callable[[], None], *, pager: bool = True) -> None:
    """Print what ``show`` prints for people through a pager where a person reads it all at
    once: standard output a terminal, the text taller than it, and ``pager`` (``--no-pager``
    is False). Never when piped: a file or a script gets the text itself.

    The pager is ``PAGER`` (run by the shell, as git runs it), ``less`` where it is unset;
    ``PAGER`` set empty or ``cat`` means no pager. ``LESS`` defaults to ``FRX`` (git's: quit
    when it fits, keep colours, leave the text on the screen after)."""
    if not (pager and sys.stdout.isatty()):
        show()
        return
    console = out.console
    with console.capture() as captured:
        show()
    text = captured.get()
    command = os.environ.get("PAGER", "less").strip()
    if text.count("\n") < console.height or not _runnable(command):
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    _page(text, command)


def _runnable(command: str) -> bool:
    """``command`` names a pager that is there (not empty, not ``cat``)."""
    import shlex
    import shutil

    try:
        words = shlex.split(command)
    except ValueError:
        return False
    return bool(words) and words[0] != "cat" and shutil.which(words[0]) is not None


def _page(text: str, command: str) -> None:
    import subprocess

    env = {**os.environ, "LESS": os.environ.get("LESS", "FRX")}
    pager = subprocess.Popen(command, shell=True, stdin=subprocess.PIPE, env=env)
    stdin = pager.stdin
    try:
        if stdin is not None:
            with stdin:
                stdin.write(text.encode("utf-8", "backslashreplace"))
    except (BrokenPipeError, KeyboardInterrupt):
        pass  # the reader quit the pager before the end
    while True:
        try:
            pager.wait()
            return
        except KeyboardInterrupt:  # ignored, as the pager ignores it: it holds the terminal
            pass
