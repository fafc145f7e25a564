"""JSON Lines input (``import``, ``import --restore``): its lines, each at most
``MAX_LINE_BYTES``, read without holding more than one line, and standard input spooled
whole before anything is stored.

An event is small (a few hundred bytes; a note is at most 4,096 characters), so a line of
more than 2 MiB is refused as soon as its first 2 MiB are read, naming its line: a line of
hundreds of megabytes costs no more memory than that. Standard input is read to its end
into an owner-only temporary file (``tempfile.TemporaryFile``: unlinked at once, gone with
the process) before the append's transaction opens, so that no transaction waits on a slow
producer (PostgreSQL ends a transaction idle for longer than eventsourcing's
``idle_in_transaction_session_timeout``) and memory stays bounded for any input.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import BinaryIO

from ._errors import BadInput, StoreError

# 2 MiB, not counting the line's end (\n). The largest valid event is far smaller (a note of
# 4,096 characters, a few texts of 1,024, each at most 12 bytes a character as JSON escapes);
# below the limit, an overlong field is named by the field's own check (a note of 400,000
# emoji, 1.6 MB, says "note is 400000 characters long"), above it the line is refused unread.
MAX_LINE_BYTES = 2 << 20
LIMIT_TEXT = "2 MiB (2,097,152 bytes)"


def too_long(line: int | None = None) -> BadInput:
    return BadInput("event", f"is longer than {LIMIT_TEXT}, the limit for one event", line=line)


def _line(raw: bytes, number: int) -> bytes:
    if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
        raise too_long(number)
    return raw


def event_lines(handle: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """The non-blank lines of ``handle`` with their numbers (from 1), one at a time; bad
    input naming the line for one longer than ``MAX_LINE_BYTES``."""
    readline, number = handle.readline, 0
    while raw := readline(MAX_LINE_BYTES + 1):
        number += 1
        if raw.strip():
            yield number, _line(raw, number)
        elif len(raw) > MAX_LINE_BYTES:  # blanks, a megabyte of them
            _line(raw, number)


@contextmanager
def spooled(stream: BinaryIO) -> Iterator[BinaryIO]:
    """``stream`` read to its end into an owner-only temporary file, which is yielded at its
    start; a line longer than ``MAX_LINE_BYTES`` stops the reading at once (bad input)."""
    try:
        spool = tempfile.TemporaryFile()  # noqa: SIM115 (closed below, also when reading fails)
    except OSError as exc:
        raise _cannot_spool(exc) from None
    readline, write, number = stream.readline, spool.write, 0
    try:
        while raw := readline(MAX_LINE_BYTES + 1):
            number += 1
            write(_line(raw, number))
        spool.flush()
        spool.seek(0)
    except BaseException as exc:
        with suppress(OSError):  # what is left in its buffer cannot be written either
            spool.close()
        if isinstance(exc, OSError):  # a full disk
            raise _cannot_spool(exc) from None
        raise
    with spool:
        yield spool


def _cannot_spool(exc: OSError) -> StoreError:
    return StoreError(
        f"cannot spool standard input to a temporary file in {tempfile.gettempdir()}: {exc.strerror or exc}"
    )


def check_event_size(text: str | bytes) -> None:
    """Bad input for one event's JSON text longer than ``MAX_LINE_BYTES`` (a final line end
    not counted)."""
    if len(text) > MAX_LINE_BYTES:
        raw = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
        if len(raw[:-1] if raw.endswith(b"\n") else raw) > MAX_LINE_BYTES:
            raise too_long()


def read_event(stream: BinaryIO) -> bytes:
    """One event's JSON text from ``stream`` (``record --event -``), read to its end but no
    further than the limit allows (see ``check_event_size``)."""
    raw = stream.read(MAX_LINE_BYTES + 2)
    check_event_size(raw)
    return raw
