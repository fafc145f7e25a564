"""The one place where what a database driver raises becomes the ledger's ``store`` error."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from types import TracebackType
from typing import Generic, TypeVar

from ._errors import LedgerError, StoreError
from ._url import redact
from ._wait import lock_timed_out, wait_error

T = TypeVar("T")


def store_error(url: str, exc: BaseException) -> StoreError:
    """The contract's ``store`` error for what the driver raised on the store at ``url``:
    the driver's reason (its first line: what the server answered), with no password."""
    if lock_timed_out(exc):  # a write that waited for another (``_wait``) as long as it may
        return wait_error(redact(url), None)
    text = str(exc).strip()
    reason = text.splitlines()[0] if text else type(exc).__name__
    return StoreError(f"cannot use the store {redact(url)}: {redact(reason, url)}")


class Translated(Generic[T]):
    """``inner`` (a context manager) with whatever the driver raises (``errors``, the
    backend's and the library's), on entering, inside or on leaving, as the contract's
    ``store`` error for the store at ``url``. A class, not a generator: it is around every
    question (``ledger por``), where a generator's cost shows."""

    __slots__ = ("_errors", "_inner", "_url")

    def __init__(
        self, inner: AbstractContextManager[T], url: str, errors: tuple[type[BaseException], ...]
    ) -> None:
        self._inner, self._url, self._errors = inner, url, errors

    def __enter__(self) -> T:
        try:
            return self._inner.__enter__()
        except LedgerError:
            raise
        except self._errors as exc:
            raise store_error(self._url, exc) from exc

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        try:
            if self._inner.__exit__(kind, exc, tb):
                return True
        except LedgerError:
            raise
        except self._errors as error:
            raise store_error(self._url, error) from error
        if exc is None or isinstance(exc, LedgerError) or not isinstance(exc, self._errors):
            return False
        raise store_error(self._url, exc) from exc


def translated(url: str, errors: tuple[type[BaseException], ...]) -> Translated[None]:
    """Around any use of the store at ``url``: the driver's ``errors`` as the store error."""
    return Translated(nullcontext(), url, errors)
