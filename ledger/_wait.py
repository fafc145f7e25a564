"""How long a writer waits for another writer's lock, and what it says meanwhile.

Writers are serialised by the store's write lock (SQLite's one writer lock, PostgreSQL's
EXCLUSIVE lock on the events table): a write started during a long import waits for it.
It waits up to ``wait`` seconds (the ``ledger`` command's ``--wait``, ``LEDGER_WAIT``; the
SQLite busy timeout and the PostgreSQL ``lock_timeout``), then fails saying so; and where
someone is watching (``on_wait``, the command's terminal) it says that it is waiting, once,
if it has not got the lock within a moment (``NOTICE_AFTER``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ._errors import BadInput, StoreError
from ._url import redact

DEFAULT_WAIT = 600  # seconds
MAX_WAIT = 2_147_483  # PostgreSQL's largest lock_timeout (2^31 - 1 ms), in whole seconds
NOTICE_AFTER = 0.25  # seconds without the lock before ``on_wait`` is told

_SQLITE_BUSY = 5  # sqlite3's result code for "database is locked" (a busy timeout ran out)
_PG_LOCK_NOT_AVAILABLE = "55P03"  # SQLSTATE of a lock_timeout that ran out


def lock_timed_out(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it was raised from: eventsourcing wraps the driver's
    errors) is a wait for a lock that ran out of time, on either store."""
    seen: BaseException | None = exc
    for _ in range(4):
        if seen is None:
            return False
        if getattr(seen, "sqlite_errorcode", None) == _SQLITE_BUSY:
            return True
        if getattr(seen, "sqlstate", None) == _PG_LOCK_NOT_AVAILABLE:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def checked_wait(wait: int) -> int:
    """``wait`` if it is a whole number of seconds from 1 to ``MAX_WAIT`` (0 would mean no
    limit to PostgreSQL, and SQLite's default to eventsourcing); else bad input."""
    if isinstance(wait, bool) or not isinstance(wait, int) or not 1 <= wait <= MAX_WAIT:
        raise BadInput("wait", f"must be a whole number of seconds from 1 to {MAX_WAIT}")
    return wait


def wait_error(shown_url: str, wait: int | None) -> StoreError:
    """The store error of a writer that waited its ``wait`` seconds for another's lock
    (``shown_url``: the store's URL as messages show it, ``_url.redact``)."""
    waited = f"{wait} s" if wait is not None else "as long as it may"
    return StoreError(
        f"cannot use the store {shown_url}: another writer held its write lock and this one gave up "
        f"after waiting {waited}; try again later, or wait longer with --wait SECONDS (or LEDGER_WAIT)"
    )


@contextmanager
def waiting(on_wait: Callable[[int], None] | None, wait: int, url: str) -> Iterator[None]:
    """Around taking the write lock of the store at ``url``: tells ``on_wait`` (with
    ``wait``) if the lock is not had within ``NOTICE_AFTER`` seconds, and turns a wait that
    ran out into ``wait_error``."""
    timer = None
    if on_wait is not None:
        timer = threading.Timer(NOTICE_AFTER, on_wait, [wait])
        timer.daemon = True
        timer.start()
    try:
        yield
    except Exception as exc:
        if lock_timed_out(exc):
            raise wait_error(redact(url), wait) from exc
        raise
    finally:
        if timer is not None:
            timer.cancel()
