"""One GET at a time against Microsoft's APIs, patiently: throttling and transient failures
retried within bounds, everything else one plain sentence.

Why these rules: Partner Center and Graph both throttle with ``429 Too Many Requests`` and a
``Retry-After`` header (seconds, or an HTTP date: RFC 9110 section 10.2.3), and both answer
``5xx`` now and then under load. A sync must ride those out, but never hang: every wait is
bounded by ``Patience.max_wait`` for the whole run, and a failure that stays is reported
(exit 1) naming the service and the page, never the token. The bearer token goes only to the
origin it was issued for: a next-page link that leaves that origin is refused rather than
followed (a page could otherwise send the token anywhere).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .._errors import LedgerError

if TYPE_CHECKING:
    import httpx


class Unreachable(LedgerError):
    """A service (the authority, Graph, Partner Center) could not be reached, or kept failing
    or refusing a page after the retries (exit 1, the contract's ``store`` code: the sync
    stored nothing)."""

    code = "store"
    exit_code = 1


@dataclass(frozen=True)
class Patience:
    """How hard a sync tries before it gives up: ``retries`` more attempts of a page that
    failed with a 5xx or did not answer (each after ``backoff`` * 2**n seconds, or the
    server's own ``Retry-After``), and at most ``max_wait`` seconds of waiting in all (for
    throttling and backoff together), so a sync never hangs on a throttled service."""

    retries: int = 4
    backoff: float = 1.0
    max_wait: float = 300.0
    timeout: float = 60.0


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """The seconds a ``Retry-After`` header asks to wait: a number of seconds, or an HTTP date
    (the wait until then, never negative); None when absent or not either form."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP date is GMT by definition
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def origin(url: str) -> tuple[str, str]:
    """A URL's scheme and host (with port): where a token may be sent."""
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


@dataclass
class Fetcher:
    """GETs JSON pages with the retry rules above; ``token`` gives the bearer token for a
    URL's origin. ``waited`` is the seconds spent waiting so far (throttling and backoff)."""

    client: httpx.Client
    token: Callable[[str], str]
    patience: Patience = field(default_factory=Patience)
    sleep: Callable[[float], None] = time.sleep
    waited: float = 0.0
    requests: int = 0

    def get(self, url: str, service: str, headers: Mapping[str, str] | None = None) -> bytes:
        """The body of a 200 answer to GET ``url``; ``Unreachable`` naming ``service`` and the
        URL when it does not come within the patience."""
        import httpx

        request_id = str(uuid.uuid4())  # the same on a retry: Partner Center's idempotency key
        failures = 0
        throttles = 0
        while True:
            self.requests += 1
            sent = {
                "Accept": "application/json",
                "Authorization": f"Bearer {self.token(url)}",
                "MS-RequestId": request_id,
                "client-request-id": request_id,
                **(headers or {}),
            }
            try:
                response = self.client.get(url, headers=sent)
            except httpx.TransportError as exc:
                what = f"{service} did not answer GET {_shown(url)} ({type(exc).__name__}: {exc})"
                if "CERTIFICATE_VERIFY_FAILED" in str(exc):  # asking again changes nothing
                    raise Unreachable(f"{what}; a TLS-inspecting proxy's authority: --ca-bundle") from None
                failures += 1
                self._pause(failures, None, what)
                continue
            status = response.status_code
            if status == 200:
                return response.content
            asked = retry_after(response.headers.get("Retry-After"))
            what = f"{service} answered GET {_shown(url)} with HTTP {status}{_said(response)}"
            if status == 429:
                throttles += 1
                if throttles > 50:
                    raise Unreachable(f"{what} 50 times in a row; try the sync again later")
                self._wait(asked if asked is not None else self._backoff(throttles), what)
            elif status >= 500:
                failures += 1
                self._pause(failures, asked, what)
            else:
                raise Unreachable(what)

    def _backoff(self, attempt: int) -> float:
        return float(self.patience.backoff * 2 ** (attempt - 1))

    def _pause(self, failures: int, asked: float | None, what: str) -> None:
        """Wait before retry ``failures`` of a failed page, or give up after the last."""
        if failures > self.patience.retries:
            retries = self.patience.retries
            raise Unreachable(f"{what}, {retries + 1} times (--retries {retries}); nothing was stored")
        self._wait(asked if asked is not None else self._backoff(failures), what)

    def _wait(self, seconds: float, what: str) -> None:
        if self.waited + seconds > self.patience.max_wait:
            raise Unreachable(
                f"{what} and asked to wait {seconds:g} s, beyond the sync's patience "
                f"(--max-wait {self.patience.max_wait:g} s, {self.waited:g} s waited already); "
                "nothing was stored: try again later"
            )
        self.waited += seconds
        self.sleep(seconds)


def _shown(url: str) -> str:
    """A URL as an error shows it: without its query's values beyond 200 characters."""
    return url if len(url) <= 200 else url[:200] + "..."


def _said(response: httpx.Response) -> str:
    """The service's own error message, briefly (Graph's ``error.message``, Partner Center's
    ``description``), or nothing."""
    import orjson

    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return ""
    message: object = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            message = error.get("message")
        message = message or body.get("description") or body.get("message")
    return f": {str(message)[:300]}" if message else ""
