"""The one place where what a database driver raises becomes the ledger's ``store`` error."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ._errors import LedgerError, StoreError
from ._url import redact
from ._wait import lock_timed_out, wait_error


def store_error(url: str, exc: BaseException) -> StoreError:
    """The contract's ``store`` error for what the driver raised on the store at ``url``:
    the driver's reason (its first line: what the server answered), with no password."""
    if lock_timed_out(exc):  # a write that waited for another (``_wait``) as long as it may
        return wait_error(redact(url), None)
    text = str(exc).strip()
    reason = text.splitlines()[0] if text else type(exc).__name__
    return StoreError(f"cannot use the store {redact(url)}: {redact(reason, url)}")


@contextmanager
def translated(url: str, errors: tuple[type[BaseException], ...]) -> Iterator[None]:
    """Turn whatever the driver raises (``errors``, the backend's and the library's) into
    the contract's ``store`` error for the store at ``url``."""
    try:
        yield
    except LedgerError:
        raise
    except errors as exc:
        raise store_error(url, exc) from exc
