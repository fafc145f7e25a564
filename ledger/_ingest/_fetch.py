"""``ledger sync``'s downloading: the pages ``ledger ingest`` reads, fetched from Microsoft
Graph and Partner Center REST with an app's client credentials.

Where each source comes from (``sources.md``):

- ``graph-gdap``: ``GET {graph}/v1.0/tenantRelationships/delegatedAdminRelationships``, next
  pages by ``@odata.nextLink`` (an absolute URL: Microsoft Graph paging, "Paging Microsoft
  Graph data in your app").
- ``pc-customers``: ``GET {pc}/v1/customers``; ``pc-subscriptions`` and ``pc-transfers``:
  ``GET {pc}/v1/customers/{id}/subscriptions`` and ``…/transfers`` for each customer;
  ``pc-resellers``: ``GET {pc}/v1/relationships?relationship_type=IsIndirectCloudSolutionProviderOf``;
  ``pc-audit``: ``GET {pc}/v1/auditrecords?startDate=…&endDate=…``. Partner Center pages by
  ``links.next`` = ``{"uri", "method", "headers": [{"key": "MS-ContinuationToken", "value"}]}``
  (the uri relative to the API's root, e.g. ``/v1/customers?seekOperation=Next``), the token
  sent back as the ``MS-ContinuationToken`` header (Partner Center REST, "Get a list of
  customers", "Partner Center REST headers"); a top-level ``continuationToken`` is the same token.
- Audit records only for the last 90 days, in windows of at most 30 days (Partner Center REST
  "Audit operations - Gets Audit Records": "only supports AuditRecord retrieval for the last 90
  days and a maximum window of 30 days"); a start further back is refused (HTTP 400).

Tokens come from ``msal`` (client credentials: ``acquire_token_for_client``) with the
tenant, client id and secret read from the environment (``Credentials.from_env``). They live
in this process's memory only (msal's in-memory cache): never written, never printed; the
secret is kept out of every message (``scrub``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urljoin, urlsplit

import orjson

from .._errors import BadInput
from ._http import Fetcher, Patience, Unreachable, origin

if TYPE_CHECKING:
    import httpx

GRAPH = "https://graph.microsoft.com"
PARTNER_CENTER = "https://api.partnercenter.microsoft.com"
AUTHORITY = "https://login.microsoftonline.com"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
PARTNER_CENTER_SCOPE = "https://api.partnercenter.microsoft.com/.default"

ENV_TENANT = "LEDGER_SYNC_TENANT_ID"
ENV_CLIENT = "LEDGER_SYNC_CLIENT_ID"
ENV_SECRET = "LEDGER_SYNC_CLIENT_SECRET"

AUDIT_KEPT = timedelta(days=90)  # Partner Center refuses a start further back
AUDIT_MARGIN = timedelta(minutes=10)  # our clock and theirs may differ: stay inside the 90 days
AUDIT_WINDOW = timedelta(days=30)  # the longest window one query may ask for

# The order a sync ingests its sources in: the reseller map and the customers first (what the
# others name), then snapshots, then the audit log's history.
ORDER = ("pc-resellers", "pc-customers", "pc-subscriptions", "pc-transfers", "graph-gdap", "pc-audit")


@dataclass(frozen=True)
class Endpoints:
    """Where the services are: the public cloud's by default; another cloud's (or a test
    server's) by ``--graph-url``, ``--partner-center-url`` and ``--authority``."""

    graph: str = GRAPH
    partner_center: str = PARTNER_CENTER
    authority: str = AUTHORITY

    def checked(self) -> Endpoints:
        """These endpoints, each an https URL without a trailing slash; bad input naming the
        option otherwise (a bearer token or a secret never travels in clear text)."""
        for option, value in (
            ("--graph-url", self.graph),
            ("--partner-center-url", self.partner_center),
            ("--authority", self.authority),
        ):
            parts = urlsplit(value)
            if parts.scheme != "https" or not parts.netloc or parts.query or parts.fragment:
                raise BadInput(option, f"{value!r} is not an https URL of a host (like {GRAPH})")
        return Endpoints(*(v.rstrip("/") for v in (self.graph, self.partner_center, self.authority)))


@dataclass(frozen=True)
class Credentials:
    """An app registration's client credentials, from the environment only."""

    tenant_id: str
    client_id: str
    secret: str = field(repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Credentials:
        """The credentials in ``env`` (default: the process environment); bad input naming
        every variable that is missing or empty."""
        env = os.environ if env is None else env
        missing = [
            BadInput(name, "is not set: the sync needs the app's client credentials in the environment")
            for name in (ENV_TENANT, ENV_CLIENT, ENV_SECRET)
            if not env.get(name, "").strip()
        ]
        if missing:
            raise BadInput.combined(missing)
        return cls(env[ENV_TENANT].strip(), env[ENV_CLIENT].strip(), env[ENV_SECRET])

    def scrub(self, text: str) -> str:
        """``text`` with the secret (should any library have echoed it) hidden."""
        return text.replace(self.secret, "***") if self.secret else text


class Tokens:
    """Bearer tokens for Graph and Partner Center from ``msal``'s client-credentials flow,
    cached in memory by msal for this process only."""

    def __init__(self, credentials: Credentials, endpoints: Endpoints, verify: str | bool, timeout: float):
        self._credentials = credentials
        self._endpoints = endpoints
        self._verify = verify
        self._timeout = timeout
        self._app: Any = None

    def _application(self) -> Any:
        if self._app is None:
            import msal
            import requests

            authority = f"{self._endpoints.authority}/{quote(self._credentials.tenant_id, safe='')}"
            try:
                self._app = msal.ConfidentialClientApplication(
                    self._credentials.client_id,
                    client_credential=self._credentials.secret,
                    authority=authority,
                    # The authority is the operator's (the public cloud's or a sovereign one's,
                    # each well known to msal, or --authority): no discovery call elsewhere.
                    instance_discovery=False,
                    http_client=_Session(self._verify, self._timeout),
                )
            except requests.RequestException as exc:
                raise Unreachable(
                    self._credentials.scrub(f"the authority {authority} did not answer ({exc})")
                ) from None
            except ValueError as exc:  # msal: no OpenID configuration for this tenant
                raise BadInput(
                    ENV_TENANT,
                    self._credentials.scrub(
                        f"{self._credentials.tenant_id!r} is unknown to {authority}: {exc}"
                    ),
                ) from None
        return self._app

    def for_scope(self, scope: str) -> str:
        """An access token for ``scope``; bad input naming the variable the authority
        refused (exit 2), ``Unreachable`` when it did not answer (exit 1)."""
        import requests

        app = self._application()
        try:
            answer = app.acquire_token_for_client(scopes=[scope])
        except requests.RequestException as exc:
            raise Unreachable(
                self._credentials.scrub(f"the authority {self._endpoints.authority} did not answer ({exc})")
            ) from None
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if isinstance(token, str) and token:
            return token
        error = str(answer.get("error", "no token")) if isinstance(answer, dict) else "no token"
        said = str(answer.get("error_description", "")).splitlines()[0] if isinstance(answer, dict) else ""
        variable = {
            "invalid_client": ENV_SECRET,
            "unauthorized_client": ENV_CLIENT,
            "invalid_request": ENV_TENANT,
        }.get(error, ENV_CLIENT)
        raise BadInput(
            variable,
            self._credentials.scrub(f"is not accepted by the authority for {scope}: {error} ({said[:300]})"),
        )


class _Session:
    """msal's HTTP client: a ``requests`` session whose every request is verified against the
    ``--ca-bundle`` when one is given. (msal's own ``verify`` sets the session's, which
    ``requests`` lets ``REQUESTS_CA_BUNDLE`` in the environment override; a request's own
    ``verify`` it does not.)"""

    def __init__(self, verify: str | bool, timeout: float) -> None:
        import requests

        self._session = requests.Session()
        self._verify = verify
        self._timeout = timeout

    def get(self, url: str, **options: Any) -> Any:
        return self._session.get(url, verify=self._verify, timeout=self._timeout, **options)

    def post(self, url: str, **options: Any) -> Any:
        return self._session.post(url, verify=self._verify, timeout=self._timeout, **options)

    def close(self) -> None:
        self._session.close()


@dataclass(frozen=True)
class Window:
    """One audit-records query's time range, ``start`` to ``end`` (UTC)."""

    start: datetime
    end: datetime


def audit_windows(start: datetime, end: datetime) -> list[Window]:
    """``start`` to ``end`` cut into windows of at most ``AUDIT_WINDOW`` (none if empty)."""
    windows = []
    while start < end:
        stop = min(start + AUDIT_WINDOW, end)
        windows.append(Window(start, stop))
        start = stop
    return windows


def earliest_audit_start(now: datetime) -> datetime:
    """The earliest start Partner Center accepts for an audit query made ``now``."""
    return now - AUDIT_KEPT + AUDIT_MARGIN


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


Progress = Callable[[str], None]  # told "pc-audit: page 3" as each page arrives


@dataclass
class Downloaded:
    """A run's pages, by source, each ``(name, raw bytes)`` as ``ingest`` takes files; and
    how many requests and seconds of waiting it took."""

    pages: dict[str, list[tuple[str, bytes]]] = field(default_factory=dict)
    requests: int = 0
    waited: float = 0.0


class Source:
    """The download of each source, on one ``Fetcher`` (one token per service)."""

    def __init__(self, fetcher: Fetcher, endpoints: Endpoints, progress: Progress | None = None):
        self.fetcher = fetcher
        self.endpoints = endpoints
        self.progress = progress
        self.correlation = str(uuid.uuid4())  # one per run: ties its requests together in support logs

    def _told(self, what: str) -> None:
        if self.progress is not None:
            self.progress(what)

    # --- Graph ---------------------------------------------------------------------------

    def graph_pages(self, source: str, url: str) -> Iterator[tuple[str, bytes]]:
        """Every page from ``url`` on, by ``@odata.nextLink``."""
        number = 0
        next_url: str | None = url
        while next_url is not None:
            number += 1
            name = f"{source} response {number}"
            self._told(name)
            raw = self.fetcher.get(next_url, "Microsoft Graph")
            page = _json_object(raw, "Microsoft Graph", next_url)
            yield name, raw
            link = page.get("@odata.nextLink")
            next_url = self._same_origin(link, self.endpoints.graph, "Microsoft Graph") if link else None

    # --- Partner Center ------------------------------------------------------------------

    def pc_pages(self, source: str, path: str, label: str | None = None) -> Iterator[tuple[str, bytes]]:
        """Every page from ``path`` (under the API's root) on, by ``links.next`` and its
        ``MS-ContinuationToken``."""
        root = self.endpoints.partner_center
        url: str | None = root + path
        headers: dict[str, str] = {}
        number = 0
        while url is not None:
            number += 1
            name = f"{source}{' ' + label if label else ''} response {number}"
            self._told(name)
            sent = {"MS-Contract-Version": "v1", "MS-CorrelationId": self.correlation, **headers}
            raw = self.fetcher.get(url, "Partner Center", sent)
            page = _json_object(raw, "Partner Center", url)
            yield name, raw
            url, headers = self._pc_next(page, root, url)

    def _pc_next(self, page: Mapping[str, Any], root: str, current: str) -> tuple[str | None, dict[str, str]]:
        """The next page's URL and headers, or (None, {}) after the last page."""
        links = page.get("links")
        following = links.get("next") if isinstance(links, dict) else None
        token = page.get("continuationToken")
        uri: object = None
        headers: dict[str, str] = {}
        if isinstance(following, dict):
            uri = following.get("uri")
            given = following.get("headers")
            pairs: list[tuple[object, object]] = []
            if isinstance(given, list):
                pairs = [(h.get("key"), h.get("value")) for h in given if isinstance(h, dict)]
            elif isinstance(given, dict):
                pairs = list(given.items())
            for key, value in pairs:
                if isinstance(key, str) and key.lower() == "ms-continuationtoken" and isinstance(value, str):
                    headers["MS-ContinuationToken"] = value
        if "MS-ContinuationToken" not in headers and isinstance(token, str) and token:
            headers["MS-ContinuationToken"] = token
        if not isinstance(uri, str) or not uri:
            if not headers:
                return None, {}
            uri = current  # a token without a uri: the same query, continued
        return self._same_origin(_pc_url(root, uri), root, "Partner Center"), headers

    def customers(self) -> tuple[list[tuple[str, bytes]], list[str]]:
        """``pc-customers``'s pages, and the customers' tenant ids they list."""
        pages = list(self.pc_pages("pc-customers", "/v1/customers"))
        ids: list[str] = []
        for _name, raw in pages:
            for item in _items(orjson.loads(raw)):
                customer = item.get("id") or item.get("Id") or item.get("CustomerId")
                if isinstance(customer, str) and customer and customer not in ids:
                    ids.append(customer)
        return pages, ids

    def per_customer(self, source: str, what: str, customers: Sequence[str]) -> list[tuple[str, bytes]]:
        """``what`` (subscriptions, transfers) of each customer, every page."""
        pages: list[tuple[str, bytes]] = []
        for customer in customers:
            path = f"/v1/customers/{quote(customer, safe='')}/{what}"
            pages += self.pc_pages(source, path, f"customer {customer}")
        return pages

    def audit(self, windows: Sequence[Window]) -> list[tuple[str, bytes]]:
        """``pc-audit``'s pages for each window."""
        pages: list[tuple[str, bytes]] = []
        for window in windows:
            query = urlencode({"startDate": _iso(window.start), "endDate": _iso(window.end)})
            label = f"{_iso(window.start)}..{_iso(window.end)}"
            pages += self.pc_pages("pc-audit", f"/v1/auditrecords?{query}", label)
        return pages

    def resellers(self) -> list[tuple[str, bytes]]:
        path = "/v1/relationships?relationship_type=IsIndirectCloudSolutionProviderOf"
        return list(self.pc_pages("pc-resellers", path))

    def _same_origin(self, link: object, base: str, service: str) -> str:
        if not isinstance(link, str) or not link:
            raise Unreachable(f"{service} answered a next-page link that is not a URL: {str(link)[:200]!r}")
        if origin(link) != origin(base):
            raise Unreachable(
                f"{service} answered a next-page link to another host ({link[:200]}); it is not "
                f"followed, since the token for {base} would go with it"
            )
        return link


def _pc_url(root: str, uri: str) -> str:
    """A ``links.next`` uri as a URL: absolute as it is; ``/v1/…`` under the host; otherwise
    (``/customers?…``, as some pages write it) under the API's version root."""
    if urlsplit(uri).scheme:
        return uri
    if uri.startswith("/v1/") or uri.startswith("/v1?"):
        return urljoin(root + "/", uri)
    return f"{root}/v1{uri if uri.startswith('/') else '/' + uri}"


def _json_object(raw: bytes, service: str, url: str) -> Mapping[str, Any]:
    try:
        page = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise Unreachable(f"{service} answered GET {url[:200]} with something that is not JSON") from None
    if not isinstance(page, dict):
        raise Unreachable(f"{service} answered GET {url[:200]} with JSON that is not a page (an object)")
    return page


def _items(page: object) -> list[Mapping[str, Any]]:
    if isinstance(page, dict):
        items = page.get("items", page.get("Items", page.get("value")))
        if isinstance(items, list):
            return [item for item in items if isinstance(item, dict)]
    return []


def download(
    sources: Sequence[str],
    windows: Sequence[Window],
    fetcher: Fetcher,
    endpoints: Endpoints,
    progress: Progress | None = None,
) -> Downloaded:
    """Every page of ``sources`` (audit records for ``windows``), all of them or an error:
    nothing is handed on before the last page has arrived."""
    source = Source(fetcher, endpoints, progress)
    done = Downloaded()
    customer_ids: list[str] = []
    if {"pc-customers", "pc-subscriptions", "pc-transfers"} & set(sources):
        customer_pages, customer_ids = source.customers()
        if "pc-customers" in sources:
            done.pages["pc-customers"] = customer_pages
    for name in ORDER:
        if name not in sources or name == "pc-customers":
            continue
        if name == "pc-resellers":
            done.pages[name] = source.resellers()
        elif name == "pc-subscriptions":
            done.pages[name] = source.per_customer(name, "subscriptions", customer_ids)
        elif name == "pc-transfers":
            done.pages[name] = source.per_customer(name, "transfers", customer_ids)
        elif name == "graph-gdap":
            url = f"{endpoints.graph}/v1.0/tenantRelationships/delegatedAdminRelationships"
            done.pages[name] = list(source.graph_pages(name, url))
        elif name == "pc-audit":
            done.pages[name] = source.audit(windows)
    done.requests, done.waited = fetcher.requests, fetcher.waited
    return done


def fetcher(
    credentials: Credentials,
    endpoints: Endpoints,
    patience: Patience,
    ca_bundle: str | None,
    client: httpx.Client,
) -> Fetcher:
    """A ``Fetcher`` on ``client`` whose tokens come from ``credentials``: Graph's for the
    Graph endpoint's origin, Partner Center's for Partner Center's (and nothing for any
    other: a token is never sent where it was not meant to go)."""
    tokens = Tokens(credentials, endpoints, ca_bundle or True, patience.timeout)

    def token(url: str) -> str:
        for base, scope in ((endpoints.graph, GRAPH_SCOPE), (endpoints.partner_center, PARTNER_CENTER_SCOPE)):
            if origin(url) == origin(base) and url.startswith(base + "/"):
                return tokens.for_scope(scope)
        raise Unreachable(f"no token is sent to {url[:200]}")  # next links are checked first

    return Fetcher(client, token, patience)


def http_client(ca_bundle: str | None, patience: Patience) -> httpx.Client:
    """The HTTP client of a sync: TLS verified (against ``ca_bundle`` when given, instead of
    the system's authorities), no redirects followed (a redirect could carry the token
    elsewhere), the environment's proxy settings honoured."""
    import ssl

    import httpx

    verify: ssl.SSLContext | bool = True
    if ca_bundle is not None:
        if not os.path.isfile(ca_bundle):
            raise BadInput("--ca-bundle", f"{ca_bundle} is not a readable file")
        try:
            verify = ssl.create_default_context(cafile=ca_bundle)
        except (ssl.SSLError, OSError) as exc:
            raise BadInput("--ca-bundle", f"{ca_bundle} holds no PEM certificates ({exc})") from None
    return httpx.Client(verify=verify, timeout=patience.timeout, follow_redirects=False)
