"""A store's URL, read in one place: by the ``Ledger`` (``_env.store_env``) and by a
question asked of a store by URL alone (``_backend.read_store``), which must not load the
store's write side.

What is read is what the store is given, exactly, or refused as bad input naming the part
of the URL at fault:

- ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db``: a plain file path
  (percent-decoded). No host part, no query, no fragment, not ``:memory:`` and not a
  ``file:`` URI: each of those was taken before as something else than it asked for (a
  database in memory that vanishes on exit, a host or ``mode=ro`` silently dropped).
- ``postgresql://user:password@host:port,host2:port2/dbname?schema=NAME&option=value``:
  every query option but the ledger's own ``schema`` is one of libpq's connection
  options (libpq's own list, from the libpq in use), and every one is passed to every
  connection the ledger makes (``StoreUrl.connection_options``).

Every message that shows a URL, a connection string or a driver's error shows it through
``redact``: no password of the URL is ever printed.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ._errors import BadInput, StoreError

DEFAULT_URL = "sqlite:///ledger.db"

_SCHEMA = re.compile(r"[a-z_][a-z0-9_]{0,62}")  # what eventsourcing's PostgreSQL recorder can use

SQLITE_LOCK_TIMEOUT = 30  # seconds a question's own SQLite connection waits for a lock
PG_CONNECT_TIMEOUT = 5  # seconds to wait for a PostgreSQL connection (libpq's connect_timeout)

# The URL's parts eventsourcing's datastore takes (``POSTGRES_DBNAME`` …), in this order.
_PG_PARTS = ("dbname", "host", "port", "user", "password")
# libpq's options whose values are secrets (those it displays as "*", and the SCRAM keys).
_SECRET_OPTIONS = ("password", "sslpassword", "oauth_client_secret", "scram_client_key", "scram_server_key")
_LIBPQ_DOCS = "https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-PARAMKEYWORDS"


@dataclass(frozen=True)
class StoreUrl:
    """Where a store is: a SQLite file (``sqlite_path``), or a PostgreSQL database
    (``pg``: libpq's connection parameters as eventsourcing's datastore takes them), the
    ``schema`` its tables are in and the URL's other libpq ``options``, in its order."""

    url: str
    sqlite_path: str = ""
    pg: tuple[tuple[str, str], ...] = ()
    schema: str = ""
    options: tuple[tuple[str, str], ...] = ()

    @property
    def dialect(self) -> str:
        return "sqlite" if self.sqlite_path else "postgresql"

    @property
    def connect_timeout(self) -> int:
        """Seconds libpq waits for a connection: the URL's ``connect_timeout``, else
        ``PG_CONNECT_TIMEOUT`` (0 or less: no limit, as libpq's)."""
        return int(dict(self.options).get("connect_timeout", PG_CONNECT_TIMEOUT))

    def connection_options(self, lock_timeout: int | None = None) -> dict[str, str]:
        """The libpq options beyond ``pg`` that every connection to the store is made with:
        the URL's own, ``connect_timeout`` (``PG_CONNECT_TIMEOUT`` unless the URL says),
        and ``options`` with the ledger's schema as the search path first (``search_path_option``), then
        ``lock_timeout`` (seconds a statement waits for a lock, for a writer), then the URL's."""
        given = dict(self.options)
        server = [search_path_option(self.schema)]
        if lock_timeout is not None:
            server.append(f"-c lock_timeout={lock_timeout}s")
        if given.get("options"):
            server.append(given["options"])
        return {**given, "connect_timeout": str(self.connect_timeout), "options": " ".join(server)}


def search_path_option(schema: str) -> str:
    """The connection option that makes ``schema`` a connection's search path (the ledger
    checks schema names: lower-case letters, digits and _ need no quoting)."""
    return f"-c search_path={schema}"


def chosen(url: str | None) -> str:
    """The store's URL: ``url``, else ``LEDGER_DB``, else the default."""
    return url or os.environ.get("LEDGER_DB") or DEFAULT_URL


def store_url(url: str | None) -> StoreUrl:
    """``url`` read (None: see ``chosen``); bad input (``BadInput``, naming the part of the
    URL at fault), or a store that cannot be (a SQLite file in a folder that does not
    exist: ``StoreError``), is an error. Nothing else is ever raised, whatever the text.
    The messages name the part at fault and never repeat the URL's user part (a password
    there may be mistyped, anywhere in it)."""
    url = chosen(url)
    if "\x00" in url:
        raise BadInput("db", "has a NUL character")
    try:
        parts = urlsplit(url)
        scheme = parts.scheme
    except ValueError:  # an unclosed "[" of an IPv6 host
        raise BadInput("db", "has a host part that is not valid: an IPv6 address is written [::1]") from None
    # An empty query or fragment (a trailing "?" or "#") is one too: urlsplit leaves it "".
    before_fragment, hash_mark, fragment = url.partition("#")
    query = parts.query or ("?" if "?" in before_fragment else "")
    fragment = fragment or hash_mark
    if scheme == "sqlite":
        return _sqlite(url, parts.netloc, parts.path, query, fragment)
    if scheme in ("postgresql", "postgres"):
        return _postgres(url, parts.netloc, parts.path, parts.query, fragment)
    what = f"{scheme}://… (its scheme)" if scheme and "://" in url else repr(redact(url))
    raise BadInput(
        "db", f"{what} is not a store: give sqlite:///path/to/file.db or postgresql://user@host:port/dbname"
    )


def _sqlite(url: str, host: str, path: str, query: str, fragment: str) -> StoreUrl:
    usage = "use sqlite:///relative/path.db or sqlite:////absolute/path.db"
    if host:
        raise BadInput("db", f"has a host part (sqlite://HOST/…): a SQLite store is a local file; {usage}")
    if query:
        raise BadInput(
            "db", f"has a query ('?…'): a SQLite store takes none; {usage} (a ? in a file's name is %3F)"
        )
    if fragment:
        raise BadInput("db", f"has a fragment ('#…'): {usage} (a # in a file's name is %23)")
    file = unquote(path[1:] if path.startswith("/") else path)
    if not file:
        raise BadInput("db", f"{url!r} names no file ({usage})")
    if "\x00" in file:
        raise BadInput("db", "has a NUL character (%00) in the file's path")
    if file == ":memory:" or file.startswith("file:"):
        what = "an in-memory database" if file == ":memory:" else "a SQLite URI (file:…)"
        raise BadInput("db", f"names {what}, not a file: a ledger is kept in a file; {usage}")
    folder = Path(file).parent
    try:
        there = folder.is_dir()
    except (OSError, ValueError) as exc:  # a name too long, a character the system refuses
        raise StoreError(f"cannot open the store {url}: {exc}") from None
    if not there:
        raise StoreError(f"cannot open the store {url}: folder {folder} does not exist")
    return StoreUrl(url, sqlite_path=file)


def _postgres(url: str, netloc: str, path: str, query: str, fragment: str) -> StoreUrl:
    if fragment:
        raise BadInput(
            "db", "has a fragment ('#…'), which PostgreSQL takes no part of (a # in a part is %23)"
        )
    userinfo, _, hostspec = netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    hosts, ports = _hosts(hostspec)
    params = {
        "dbname": unquote(path[1:] if path.startswith("/") else path) or "postgres",
        "host": hosts,
        "port": ports,
        "user": unquote(user) or "postgres",
        "password": unquote(password),
    }
    schema, options = "public", {}
    known = _libpq_options()
    for key, value in _query(query):
        if key == "schema":
            schema = _schema(value)
        elif key not in known:
            raise BadInput("db", f"has the option {key!r}, which is not one of libpq's ({_LIBPQ_DOCS})")
        elif key in _PG_PARTS:
            params[key] = _port(value) if key == "port" else value
        else:
            options[key] = value
    for key, value in [*params.items(), *options.items()]:
        if "\x00" in value:
            raise BadInput("db", f"has a NUL character (%00) in its {key}")
    if "search_path" in options.get("options", "").lower():
        raise BadInput("db", "has the option 'options' setting search_path: give ?schema=NAME instead")
    if not re.fullmatch(r"\s*-?[0-9]{1,9}\s*", options.get("connect_timeout", "0")):
        raise BadInput("db", "has the option 'connect_timeout', which must be a whole number of seconds")
    return StoreUrl(
        url, pg=tuple((key, params[key]) for key in _PG_PARTS), schema=schema, options=tuple(options.items())
    )


def _hosts(hostspec: str) -> tuple[str, str]:
    """The hosts and ports of ``host:port,host2:port2`` (an IPv6 address in brackets), each
    as libpq takes them: comma-separated lists of the same length."""
    hosts, ports = [], []
    for spec in hostspec.split(","):
        if spec.startswith("["):
            host, bracket, rest = spec[1:].partition("]")
            if not bracket or (rest and not rest.startswith(":")):
                raise BadInput("db", "has a host part that is not valid: an IPv6 address is written [::1]")
            port = rest[1:]
        else:
            host, _, port = spec.partition(":")
        hosts.append(unquote(host) or "localhost")
        ports.append(_port(port) if port else "5432")
    return ",".join(hosts), ",".join(ports)


def _port(port: str) -> str:
    if port.isascii() and port.isdigit() and 0 < int(port) < 65536:
        return str(int(port))
    if port.isascii() and port.isdigit() and len(port) < 20:
        raise BadInput("db", f"has the port {port}, which is not from 1 to 65535")
    raise BadInput("db", "has a port that is not a number (from 1 to 65535)")


def _query(query: str) -> list[tuple[str, str]]:
    """The query's options, percent-decoded (a + stays a +, as libpq reads it); each once."""
    seen: dict[str, str] = {}
    for piece in query.split("&"):
        if not piece:
            continue
        key, equals, value = piece.partition("=")
        key = unquote(key)
        if not equals:
            raise BadInput("db", f"has the option {key!r} with no value (write {key}=VALUE)")
        if key in seen:
            raise BadInput("db", f"has the option {key!r} twice")
        seen[key] = unquote(value)
    return list(seen.items())


def _schema(value: str) -> str:
    if not value:
        raise BadInput("db", "schema is empty: name one (?schema=NAME), or leave it out for public")
    if not _SCHEMA.fullmatch(value):
        raise BadInput(
            "db", f"schema {value!r} must be a lower-case name: letters, digits and _ (at most 63)"
        )
    if value.startswith("pg_") or value == "information_schema":
        raise BadInput("db", f"schema {value!r} is one of PostgreSQL's own: name another")
    return value


def _libpq_options() -> frozenset[str]:
    """The connection options the libpq in use knows (its ``PQconndefaults``)."""
    global _KNOWN
    if _KNOWN is None:
        from psycopg import pq  # only PostgreSQL stores load psycopg

        _KNOWN = frozenset(option.keyword.decode() for option in pq.Conninfo.get_defaults())
    return _KNOWN


_KNOWN: frozenset[str] | None = None


# --- messages ----------------------------------------------------------------------------

_URL_USER = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s/@:]*:")  # what comes before a URL's password
_OPTION_SECRET = re.compile(rf"(?i)\b({'|'.join(_SECRET_OPTIONS)})(\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s&'\"]*)")
_SHORTEST_SECRET = 4  # a secret shorter than this is hidden only where it stands as one


def redact(text: str, url: str | None = None) -> str:
    """``text`` with every password hidden (``***``): of a URL (``user:password@``), of a
    query option or connection string (``password=…``, and libpq's other secret options),
    and anywhere else the secrets of ``url`` (default: ``text`` itself) appear, as given
    or percent-decoded. Everything that puts a URL, a connection string or a driver's
    error into a message passes it through this."""
    secrets = _secrets(text if url is None else url)
    text = _hide_url_passwords(text)
    text = _OPTION_SECRET.sub(lambda m: m.group(1) + m.group(2) + "***", text)
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _hide_url_passwords(text: str) -> str:
    """``scheme://user:***@``: in each blank-separated word, a password runs to the word's
    last ``@`` (a password may hold an unencoded ``@``). Linear in the text's length."""
    out, done = [], 0
    for word in re.finditer(r"\S+", text):
        match = _URL_USER.search(word.group())
        at = word.group().rfind("@")
        if match is not None and at >= match.end():
            out += [text[done : word.start() + match.end()], "***"]
            done = word.start() + at
    return "".join([*out, text[done:]])


def _secrets(url: str) -> set[str]:
    """The secrets a URL may hold, however it is read (as a URL, or as any text)."""
    found: set[str] = set()
    _, _, rest = url.partition("://")
    for userinfo in (rest.rpartition("@")[0], re.split(r"[/?#]", rest, maxsplit=1)[0].rpartition("@")[0]):
        if ":" in userinfo:
            found.add(userinfo.partition(":")[2])
    for match in re.finditer(rf"(?i)\b(?:{'|'.join(_SECRET_OPTIONS)})=([^&\s]*)", url):
        found.add(match.group(1))
    found |= {unquote(secret) for secret in found}
    return {secret for secret in found if len(secret) >= _SHORTEST_SECRET}
