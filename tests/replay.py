"""A local HTTPS server that plays Microsoft: an Entra ID authority msal accepts (OpenID
configuration and a client-credentials token endpoint), Microsoft Graph and Partner Center
REST, replaying saved pages with the paging, throttling and failures a test asks for.

HTTPS because msal accepts only an https authority: the certificate is a throwaway
self-signed one for 127.0.0.1, made here with ``cryptography``, which the sync is told to
trust with ``--ca-bundle``. msal itself is real: it discovers the tenant and asks for tokens
over the wire like against login.microsoftonline.com.
"""

from __future__ import annotations

import ipaddress
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

TENANT = "f0e1d2c3-0000-4000-8000-fab71ca0beef"
CLIENT_ID = "11111111-2222-4333-8444-555555555555"
SECRET = "s3cr3t~Very.Private_Value-0123456789"
GRAPH_TOKEN = "graph-access-token"
PC_TOKEN = "partner-center-access-token"


@dataclass(frozen=True)
class Seen:
    """One request as the server received it."""

    method: str
    path: str  # with its query
    headers: Mapping[str, str]
    at: float  # time.monotonic()
    form: Mapping[str, list[str]] = field(default_factory=dict)

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.path).query)


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: Any = None  # JSON-able, or bytes as they are
    headers: Mapping[str, str] = field(default_factory=dict)


Route = Callable[[Seen], Answer]


class Replay:
    """The server's state: ``routes`` by path (without the query), the requests ``seen``."""

    def __init__(self, base: str, ca: Path) -> None:
        self.base = base
        self.ca = ca
        self.routes: dict[str, Route] = {}
        self.seen: list[Seen] = []
        self.lock = threading.Lock()

    def api(self, method: str = "GET") -> list[Seen]:
        """The requests to Graph and Partner Center (not to the authority)."""
        return [
            s
            for s in self.seen
            if s.method == method and "/oauth2/" not in s.path and "/.well-known/" not in s.path
        ]

    def answer(self, seen: Seen) -> Answer:
        with self.lock:
            self.seen.append(seen)
        path = urlsplit(seen.path).path
        if path == f"/{TENANT}/v2.0/.well-known/openid-configuration":
            root = f"{self.base}/{TENANT}"
            return Answer(
                body={
                    "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
                    "token_endpoint": f"{root}/oauth2/v2.0/token",
                    "issuer": f"{root}/v2.0",
                }
            )
        if path == f"/{TENANT}/oauth2/v2.0/token":
            return self._token(seen)
        if path.startswith("/v1.0/") or path.startswith("/v1/"):
            wanted = GRAPH_TOKEN if path.startswith("/v1.0/") else PC_TOKEN
            if seen.headers.get("authorization") != f"Bearer {wanted}":
                return Answer(401, {"error": {"code": "InvalidAuthenticationToken", "message": "bad token"}})
        route = self.routes.get(path)
        if route is None:
            return Answer(404, {"error": {"code": "NotFound", "message": f"nothing at {path}"}})
        return route(seen)

    def _token(self, seen: Seen) -> Answer:
        form = seen.form
        if form.get("client_id") != [CLIENT_ID] or form.get("client_secret") != [SECRET]:
            return Answer(
                401,
                {
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret provided.",
                },
            )
        scope = form.get("scope", [""])[0]
        token = GRAPH_TOKEN if "graph.microsoft.com" in scope else PC_TOKEN
        return Answer(body={"token_type": "Bearer", "expires_in": 3599, "access_token": token})


def certificate(folder: Path) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 and localhost: (cert, key) files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "replay-cert.pem", folder / "replay-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


@contextmanager
def serving(folder: Path) -> Iterator[Replay]:
    """A ``Replay`` listening on https://127.0.0.1:PORT until the block ends."""
    cert, key = certificate(folder)
    holder: dict[str, Replay] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            form = parse_qs(body.decode()) if method == "POST" else {}
            headers = {k.lower(): v for k, v in self.headers.items()}
            answer = holder["replay"].answer(Seen(method, self.path, headers, time.monotonic(), form))
            raw = answer.body if isinstance(answer.body, bytes) else orjson.dumps(answer.body)
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for key, value in answer.headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    holder["replay"] = Replay(f"https://127.0.0.1:{server.server_address[1]}", cert)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder["replay"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# --- pages in Microsoft's shapes ----------------------------------------------------------


def graph_paged(replay: Replay, path: str, pages: list[list[dict[str, Any]]]) -> None:
    """``path`` answers ``pages`` one after another, linked by ``@odata.nextLink``
    (``?$skiptoken=N``, as Graph writes it)."""

    def route(seen: Seen) -> Answer:
        index = int(seen.query.get("$skiptoken", ["0"])[0])
        body: dict[str, Any] = {
            "@odata.context": f"{replay.base}/v1.0/$metadata#tenantRelationships/delegatedAdminRelationships",
            "value": pages[index],
        }
        if index + 1 < len(pages):
            body["@odata.nextLink"] = f"https://{seen.headers['host']}{path}?$skiptoken={index + 1}"
        return Answer(body=body)

    replay.routes[path] = route


def pc_paged(
    replay: Replay, path: str, pages: list[list[dict[str, Any]]], object_type: str = "Collection"
) -> None:
    """``path`` answers ``pages`` one after another, linked by ``links.next`` with an
    ``MS-ContinuationToken`` header, as Partner Center writes them."""

    def route(seen: Seen) -> Answer:
        token = seen.headers.get("ms-continuationtoken")
        index = int(token.removeprefix("token-")) if token else 0
        body: dict[str, Any] = {
            "totalCount": len(pages[index]),
            "items": pages[index],
            "links": {"self": {"uri": path, "method": "GET", "headers": []}},
            "attributes": {"objectType": object_type},
        }
        if index + 1 < len(pages):
            body["links"]["next"] = {
                "uri": f"{path}?seekOperation=Next",
                "method": "GET",
                "headers": [{"key": "MS-ContinuationToken", "value": f"token-{index + 1}"}],
            }
        return Answer(body=body)

    replay.routes[path] = route


def failing(route: Route, plan: list[Answer | None]) -> Route:
    """``route`` behind a plan: the n-th request gets ``plan[n]`` (None: the route's own
    answer); requests beyond the plan get the route's."""
    calls = [0]

    def planned(seen: Seen) -> Answer:
        n = calls[0]
        calls[0] += 1
        if n < len(plan) and plan[n] is not None:
            answer = plan[n]
            assert answer is not None
            return answer
        return route(seen)

    return planned


def pc_audit(replay: Replay, records: list[dict[str, Any]], page_size: int = 2) -> None:
    """``/v1/auditrecords``: the ``records`` whose ``operationDate`` is within the query's
    ``startDate`` and ``endDate``, ``page_size`` a page, continued by ``MS-ContinuationToken``
    (which carries the window, as a real one does on the server's side)."""

    def route(seen: Seen) -> Answer:
        token = seen.headers.get("ms-continuationtoken")
        if token:
            start, end, index_text = token.split("|")
            index = int(index_text)
        else:
            start, end, index = seen.query["startDate"][0], seen.query["endDate"][0], 0
        low, high = _moment(start), _moment(end)
        inside = [r for r in records if low <= _moment(r["operationDate"]) < high]
        page = inside[index : index + page_size]
        body: dict[str, Any] = {
            "totalCount": len(page),
            "items": page,
            "attributes": {"objectType": "Collection"},
        }
        if index + page_size < len(inside):
            body["links"] = {
                "next": {
                    "uri": "/v1/auditrecords?seekOperation=Next",
                    "method": "GET",
                    "headers": [
                        {"key": "MS-ContinuationToken", "value": f"{start}|{end}|{index + page_size}"}
                    ],
                }
            }
        return Answer(body=body)

    replay.routes["/v1/auditrecords"] = route


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
