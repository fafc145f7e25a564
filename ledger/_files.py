"""Files the ledger writes beside its store: owner-only, never over a database, whole or not at all.

``export FILE`` and ``report --out FILE`` write through ``output_file``: the target may be a
new file or an ordinary file, which is replaced whole (atomically: written beside it under
another name, then renamed over it), but never the ledger's own database or one of its
companion files (-wal, -shm, -journal), however the path is spelt (relative, absolute,
through a symlink or a hard link), nor any other SQLite database or its -wal, -shm or
-journal, nor a folder. A device
or a pipe that exists (``/dev/stdout``, a named pipe) is written in place. A write that
fails (a full disk) leaves nothing behind and is the ``store`` error naming the file.

Every file is created owner-only (0600, less under a stricter umask): reports and exports
hold the ledger's contents, and a new SQLite database is created so before SQLite opens it
(``create_private_database``), which gives its -wal and -shm files the same mode.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import BinaryIO

from ._errors import BadInput, StoreError
from ._url import chosen, store_url

SQLITE_HEADER = b"SQLite format 3\x00"  # https://sqlite.org/fileformat.html
_COMPANIONS = ("-wal", "-shm", "-journal")
PRIVATE = 0o600


def store_files(url: str | None) -> tuple[str, ...]:
    """The files of the store at ``url`` (see ``_url.chosen``): a SQLite database and its
    companions; none for PostgreSQL."""
    path = store_url(chosen(url)).sqlite_path
    if not path or path == ":memory:" or path.startswith("file:"):
        return ()
    return (path, *(path + suffix for suffix in _COMPANIONS))


def check_output(file: str, option: str, protected: Sequence[str]) -> None:
    """Bad input naming ``option`` unless ``file`` may be written: not a folder, not one of
    the ``protected`` files (the ledger's own), not a SQLite database, in a folder that exists."""
    real = os.path.realpath(file)
    info = _stat(real)
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise BadInput(option, f"{file} is a folder: name a file to write")
    folder = os.path.dirname(real)
    if not os.path.isdir(folder):
        raise BadInput(option, f"folder {os.path.dirname(file) or '.'} does not exist")
    for own in protected:
        own_real = os.path.realpath(own)
        same = own_real == real
        if not same and info is not None:
            with suppress(OSError):
                same = os.path.samestat(info, os.stat(own_real))
        if same:
            raise BadInput(
                option,
                f"{file} is the ledger's own database file {own}: it is never written over",
            )
    if info is not None and stat.S_ISREG(info.st_mode) and _is_sqlite(real):
        raise BadInput(option, f"{file} is a SQLite database: it is never written over")
    for suffix in _COMPANIONS:  # a database's -wal holds its newest commits until a checkpoint
        if real.endswith(suffix) and _is_sqlite(real[: -len(suffix)]):
            raise BadInput(
                option, f"{file} is the {suffix[1:]} file of a SQLite database: it is never written over"
            )


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def _is_sqlite(path: str) -> bool:
    try:
        with open(path, "rb") as file:
            return file.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


@contextmanager
def output_file(file: str, option: str, protected: Sequence[str]) -> Iterator[BinaryIO]:
    """A handle to write ``file`` through, whole or not at all (see the module); checked by
    ``check_output`` before and again just before it replaces the target. An ``OSError``
    while writing (a full disk) removes what was written and is the ``store`` error."""
    check_output(file, option, protected)
    real = os.path.realpath(file)
    info = _stat(real)
    if info is None and (direct := _stat(file)) is not None and stat.S_ISFIFO(direct.st_mode):
        real, info = file, direct  # /dev/stdout on a pipe: its link's target, pipe:[…], is no path
    if info is not None and not stat.S_ISREG(info.st_mode):  # a device or a pipe: written in place
        with writing(file), open(real, "wb") as handle:
            yield handle
        return
    folder, name = os.path.split(real)
    partial = ""
    try:
        with writing(file):
            fd, partial = _create_partial(folder, name)
            with os.fdopen(fd, "wb") as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            check_output(file, option, protected)
            os.replace(partial, real)
            partial = ""
    finally:
        if partial:
            with suppress(OSError):
                os.unlink(partial)


def write_output(file: str, option: str, protected: Sequence[str], data: bytes) -> None:
    """``data`` written to ``file`` through ``output_file``."""
    with output_file(file, option, protected) as handle:
        handle.write(data)


def _create_partial(folder: str, name: str) -> tuple[int, str]:
    """A new owner-only file beside the target, under a name of its own (never an existing
    file nor a symlink planted there: O_EXCL)."""
    while True:
        partial = os.path.join(folder, f"{name}.{secrets.token_hex(4)}.partial")
        try:
            return os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE), partial
        except FileExistsError:
            continue


@contextmanager
def writing(file: str) -> Iterator[None]:
    """An ``OSError`` while writing ``file`` (a full disk) as the ``store`` error naming it."""
    try:
        yield
    except OSError as exc:
        raise StoreError(f"cannot write {file}: {exc.strerror or exc}") from None


def create_private_database(path: str) -> None:
    """Create the SQLite database file ``path`` empty and owner-only if it does not exist,
    before SQLite does (SQLite creates it 0644 under the usual umask, and its -wal and -shm
    files take the database file's mode). An existing file is left as it is; anything
    else is left to SQLite's own open to report."""
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE)
    except OSError:
        return
    os.close(fd)
