"""A part of test_adversarial.py, which runs it.

Issue 12 ("Hardening"): what the ledger does with hostile or unlucky input and output.

Each test names the item of the issue it covers:

- 12.8  export and report never write over the ledger's own files (the database, its -wal,
  -shm and -journal, however spelt: relative, absolute, through a symlink or a hard link) nor
  over any SQLite database; an ordinary existing file is replaced whole.
- 12.15 a slow producer on standard input: no transaction waits on the input (PostgreSQL's
  idle-in-transaction timeout), standard input is spooled to an owner-only temporary file.
- 12.16 one bad time freezes recorded time: a restore whose ``recorded_at`` lies in the
  future is refused; a clock behind the ledger's head is said (``LedgerWarning``, the CLI's
  ``warning:`` line and the ``warnings`` list of ``--json``).
- 12.19 duplicate JSON keys, at any depth, in ``record --event``, ``import`` and
  ``import --restore``.
- 12.20 a line longer than the limit (2 MiB) is refused early, in bounded memory, naming its
  line; the same for ``record --event -``.
- 12.21 files are created owner-only: the SQLite database and its -wal and -shm, exports,
  reports, the spool of standard input.
- 12.22 messages: a full disk (export, report, the spool of standard input) or a folder as
  the output (no traceback, no ``*.partial`` left),
  two concurrent restores into one empty ledger, invalid UTF-8, an offset of ``+24:00``, an
  empty import file, and the restored head with ``import --restore --digest``.

Most run the installed ``ledger`` console script as a user would, on both stores.
"""

from __future__ import annotations

import json
import os
import re
import resource
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import GENESIS, BadInput, Ledger, LedgerWarning, chain_hash, parse_event
from ledger._json import load_json

from builders import customer, partner, raw
from clitools import ledger_command

PARTNER = raw(
    "partner.registered",
    "2019-01-01T00:00:00Z",
    "global-admin",
    "fabrikam",
    partner_id="fabrikam",
    name="Fabrikam",
    cloud="commercial",
    program="csp-direct",
)
CUSTOMER = raw(
    "customer.registered",
    "2019-01-01T00:00:00Z",
    "global-admin",
    "contoso",
    customer_id="contoso",
    name="Contoso",
    cloud="commercial",
)


def jsonl(events: Sequence[dict[str, Any] | bytes]) -> bytes:
    return b"".join((e if isinstance(e, bytes) else orjson.dumps(e)) + b"\n" for e in events)


@dataclass
class Done:
    code: int
    stdout: bytes
    stderr: bytes

    def json(self) -> Any:
        return orjson.loads(self.stdout)

    @property
    def err(self) -> str:
        return self.stderr.decode("utf-8", "replace")


def cli(
    *args: str,
    stdin: bytes | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    limits: dict[int, int] | None = None,
) -> Done:
    """The ``ledger`` console script; ``limits``: resource limits of the process."""

    def limited() -> None:
        for which, value in (limits or {}).items():
            resource.setrlimit(which, (value, value))

    done = subprocess.run(
        [*ledger_command(), *args],
        input=stdin or b"",
        capture_output=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=120,
        preexec_fn=limited if limits else None,
    )
    for text in (done.stdout, done.stderr):
        assert b"Traceback" not in text and b'File "' not in text, done
    return Done(done.returncode, done.stdout, done.stderr)


def error(done: Done, code: str, exit_code: int, *names: str, line: int | None = None) -> str:
    """A ``--json`` error as the contract spells it; its message, which names ``names``."""
    assert done.code == exit_code, done
    body = done.json()["error"]
    assert body["code"] == code, done
    assert body.get("line") == line, done
    for name in names:
        assert name in body["message"], done
    return str(body["message"])


def plain_error(done: Done, exit_code: int, *names: str) -> str:
    """Without ``--json``: one sentence on standard error."""
    assert done.code == exit_code, done
    text = done.err.strip()
    assert text.startswith("error: ") and "\n" not in text, done
    for name in names:
        assert name in text, done
    return text


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The usual umask (022), under which files would be world-readable; the subprocesses
    inherit it."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path | str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def loaded(url: str) -> bytes:
    """Record a partner and a customer; their export."""
    assert cli("--db", url, "import", "-", stdin=jsonl([PARTNER, CUSTOMER])).code == 0
    exported = cli("--db", url, "export")
    assert exported.code == 0
    return exported.stdout


# --- 12.8: never write over the ledger's own files or any database ---------------------------


def test_12_8_export_and_report_refuse_the_ledgers_own_files_however_spelt(tmp_path: Path) -> None:
    """`ledger --db sqlite:///self.db export self.db` overwrote the ledger with JSON Lines, and
    `report … --out self.db` with HTML: refused (exit 2, naming the file), in every spelling."""
    url = "sqlite:///self.db"
    assert cli("--db", url, "import", "-", stdin=jsonl([PARTNER, CUSTOMER]), cwd=tmp_path).code == 0
    before = (tmp_path / "self.db").read_bytes()
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.db").symlink_to(tmp_path / "self.db")
    os.link(tmp_path / "self.db", tmp_path / "hard.db")
    (tmp_path / "link-wal").symlink_to(tmp_path / "self.db-wal")  # dangling while no one writes
    spellings = [
        "self.db",
        "./self.db",
        "sub/../self.db",
        str(tmp_path / "self.db"),
        "link.db",
        "hard.db",
        "self.db-wal",
        "self.db-shm",
        "self.db-journal",
        "link-wal",
    ]
    for target in spellings:
        done = cli("--db", url, "export", target, "--json", cwd=tmp_path)
        error(done, "bad-input", 2, target, "ledger")
        done = cli("--db", url, "report", "contoso", "--out", target, "--json", cwd=tmp_path)
        error(done, "bad-input", 2, "--out", target)
    plain_error(cli("--db", url, "export", "self.db", cwd=tmp_path), 2, "self.db")
    assert (tmp_path / "self.db").read_bytes() == before
    assert not (tmp_path / "self.db-journal").exists() and not (tmp_path / "self.db-wal").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hard.db", "link-wal", "link.db", "self.db", "sub"]
    assert cli("--db", url, "verify").code == 0


def test_12_8_no_database_is_written_over_but_an_ordinary_file_is_replaced(url: str, tmp_path: Path) -> None:
    """Any existing SQLite database (its header ``SQLite format 3\\0``) is refused as the
    target of export or report, on both stores; an ordinary file is replaced whole."""
    loaded(url)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE precious (x)")
    conn.close()
    before = other.read_bytes()
    assert before.startswith(b"SQLite format 3\x00")
    error(cli("--db", url, "export", str(other), "--json"), "bad-input", 2, str(other), "SQLite database")
    done = cli("--db", url, "report", "contoso", "--out", str(other), "--json")
    error(done, "bad-input", 2, "--out", "SQLite database")
    assert other.read_bytes() == before

    ordinary = tmp_path / "old.jsonl"
    ordinary.write_bytes(b"yesterday's export\n")
    assert cli("--db", url, "export", str(ordinary)).code == 0
    assert [orjson.loads(line)["position"] for line in ordinary.read_bytes().splitlines()] == [1, 2]
    report = tmp_path / "old.html"
    report.write_text("an old report")
    assert cli("--db", url, "report", "contoso", "--out", str(report)).code == 0
    assert report.read_text().startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in tmp_path.iterdir() if "partial" in p.name) == []


def test_12_8_another_databases_wal_shm_or_journal_is_never_written_over(url: str, tmp_path: Path) -> None:
    """A form the issue did not name: not the database file itself but its companion. A
    database in WAL mode keeps its newest commits in ``-wal`` until a checkpoint; export
    and report replaced ``other.sqlite-wal`` (exit 0), losing them. The -wal, -shm and
    -journal of any SQLite database are refused as the database is, existing or not yet."""
    loaded(url)
    other = tmp_path / "other.sqlite"
    conn = sqlite3.connect(other, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA wal_autocheckpoint=0")
        conn.execute("CREATE TABLE precious (x)")
        conn.execute("INSERT INTO precious VALUES (1)")
        for suffix in ("-wal", "-shm", "-journal"):
            target = tmp_path / f"other.sqlite{suffix}"
            before = target.read_bytes() if target.exists() else None
            done = cli("--db", url, "export", str(target), "--json")
            error(done, "bad-input", 2, str(target), "SQLite database")
            done = cli("--db", url, "report", "contoso", "--out", str(target), "--json")
            error(done, "bad-input", 2, "--out", "SQLite database")
            assert (target.read_bytes() if target.exists() else None) == before
    finally:
        conn.close()
    with sqlite3.connect(other) as check:
        assert check.execute("SELECT x FROM precious").fetchall() == [(1,)]
    check.close()


@pytest.mark.parametrize("target", ["/dev/stdout", "/proc/self/fd/1"])
def test_12_8_standard_output_by_name_is_written_when_it_is_a_pipe(url: str, target: str) -> None:
    """The guard against writing over files (12.8) resolved ``/dev/stdout`` to its link's
    target, ``pipe:[…]``, which is no path: "cannot write /dev/stdout: No such file or
    directory", exit 1, for ``ledger export /dev/stdout | …``. A pipe is written in place."""
    exported = loaded(url)
    done = cli("--db", url, "export", target)
    assert done.code == 0, done
    assert done.stdout == exported


# --- 12.21: files are owner-only --------------------------------------------------------------


def test_12_21_the_sqlite_database_and_its_wal_and_shm_are_owner_only(
    tmp_path: Path, usual_umask: None
) -> None:
    """Under the usual umask SQLite made ledger.db, -wal and -shm world-readable (0644)."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with Ledger(url) as ledger:
        ledger.record_many([(0, partner("fabrikam")), (0, customer("contoso"))])
        files = [tmp_path / name for name in ("ledger.db", "ledger.db-wal", "ledger.db-shm")]
        assert [mode(f) for f in files] == [0o600] * 3  # the -wal and -shm exist while it is open
    done = cli("--db", f"sqlite:///{tmp_path / 'cli.db'}", "import", "-", stdin=jsonl([PARTNER]))
    assert done.code == 0 and mode(tmp_path / "cli.db") == 0o600


def test_12_21_exports_and_reports_are_owner_only(url: str, tmp_path: Path, usual_umask: None) -> None:
    loaded(url)
    export, report = tmp_path / "e.jsonl", tmp_path / "r.html"
    assert cli("--db", url, "export", str(export)).code == 0
    assert cli("--db", url, "report", "contoso", "--out", str(report)).code == 0
    assert mode(export) == 0o600 and mode(report) == 0o600
    export.chmod(0o644)  # replacing a world-readable file leaves an owner-only one
    assert cli("--db", url, "export", str(export)).code == 0
    assert mode(export) == 0o600


# --- 12.22: a full disk, a folder as the output ------------------------------------------------


def test_12_22_a_full_disk_is_said_and_leaves_no_partial_file(url: str, tmp_path: Path) -> None:
    """Disk full gave a traceback and left ``*.partial``. A real write error: the file size
    limit of the process (EFBIG, as a full disk gives ENOSPC), and /dev/full (ENOSPC) through
    a symlink. Exit 1 with the cause; nothing left behind."""
    notes = [
        raw(
            "relationship.requested",
            "2019-02-01T00:00:00Z",
            "sales-agent",
            "fabrikam",
            note=f"{n} " + "x" * 4000,
            request_id=f"r-{n}",
            partner_id="fabrikam",
            customer_id="contoso",
        )
        for n in range(20)
    ]
    assert cli("--db", url, "import", "-", stdin=jsonl([PARTNER, CUSTOMER, *notes])).code == 0
    out = tmp_path / "out"
    out.mkdir()
    # Export and report are larger than 64 KiB; the store is only read (SQLite's -shm: 32 KiB).
    small = {resource.RLIMIT_FSIZE: 65536}
    done = cli("--db", url, "export", str(out / "e.jsonl"), "--json", limits=small)
    error(done, "store", 1, "e.jsonl", "File too large")
    done = cli("--db", url, "report", "contoso", "--out", str(out / "r.html"), limits=small)
    plain_error(done, 1, "r.html", "File too large")
    assert list(out.iterdir()) == []
    (out / "full").symlink_to("/dev/full")
    error(cli("--db", url, "export", str(out / "full"), "--json"), "store", 1, "No space left on device")
    assert [p.name for p in out.iterdir()] == ["full"]
    stdin = jsonl(_customers(600))
    assert len(stdin) > 65536
    done = cli("--db", url, "import", "-", "--json", stdin=stdin, limits=small)
    error(done, "store", 1, "cannot spool standard input", "File too large")


def test_12_22_a_folder_as_the_output_is_bad_input(url: str, tmp_path: Path) -> None:
    loaded(url)
    folder = tmp_path / "folder"
    folder.mkdir()
    error(cli("--db", url, "export", str(folder), "--json"), "bad-input", 2, "folder")
    done = cli("--db", url, "report", "contoso", "--out", str(folder), "--json")
    error(done, "bad-input", 2, "--out", "folder")
    plain_error(cli("--db", url, "report", "contoso", "--out", str(folder)), 2, "--out", "folder")
    assert list(folder.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir() if "partial" in p.name) == []


# --- 12.15: a slow producer on standard input ---------------------------------------------------


def _customers(count: int) -> list[dict[str, Any]]:
    return [
        raw(
            "customer.registered",
            "2019-01-01T00:00:00Z",
            "global-admin",
            f"c-{n}",
            customer_id=f"c-{n}",
            name=f"Customer {n}",
            cloud="commercial",
        )
        for n in range(count)
    ]


def _spools(pid: int) -> list[int]:
    """The modes of the deleted temporary files process ``pid`` holds open."""
    modes = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(tempfile.gettempdir()) and target.endswith("(deleted)"):
            modes.append(mode(fd))
    return modes


def test_12_15_a_slow_producer_on_standard_input_waits_in_no_transaction(url: str) -> None:
    """`(cat f.jsonl; sleep 8) | ledger --db PG import -` failed with PostgreSQL's
    idle-in-transaction timeout (eventsourcing sets one: 5 s, here 1 s): the append's
    transaction was open while the input came. More than one batch (2,000 events) arrives
    at once, then the producer sleeps longer than the timeout before its last line.
    Standard input is spooled meanwhile to an owner-only temporary file, deleted already."""
    events = [PARTNER, *_customers(2100)]
    env = {**os.environ, "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "1"}
    proc = subprocess.Popen(
        [*ledger_command(), "--db", url, "import", "-", "--json"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdin is not None
    proc.stdin.write(jsonl(events[:-1]))
    proc.stdin.flush()
    deadline = time.monotonic() + 15  # the command has started and read what came
    while not (spools := _spools(proc.pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(2)  # longer than the timeout
    proc.stdin.write(jsonl(events[-1:]))
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, (stdout, stderr)
    assert orjson.loads(stdout)["imported"] == len(events)
    assert spools == [0o600]


# --- 12.20: a line over the limit -------------------------------------------------------------

MIB = 1 << 20


@pytest.fixture(scope="module")
def huge_line(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file whose second line is 64 MiB long."""
    path = tmp_path_factory.mktemp("huge") / "huge.jsonl"
    with path.open("wb") as file:
        file.write(orjson.dumps(PARTNER) + b'\n{"note": "')
        for _ in range(64):
            file.write(b"x" * MIB)
        file.write(b'"}\n' + orjson.dumps(CUSTOMER) + b"\n")
    return path


# Runs a command and writes its peak resident memory to the file named by argv[1]. A shim
# of its own: a process's peak counts the memory of the process it was forked from (Linux
# keeps it across exec), and pytest's is large.
_PEAK_SHIM = """
import os, subprocess, sys
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
proc.returncode = os.waitstatus_to_exitcode(status)
with open(sys.argv[1], "w") as out:
    out.write(str(usage.ru_maxrss))
sys.exit(proc.returncode)
"""


def _peak_rss(args: Sequence[str], stdin: Path | None = None) -> tuple[Done, int]:
    """Run the command; its answer and its peak resident memory in bytes."""
    with tempfile.TemporaryDirectory() as folder, open(stdin or os.devnull, "rb") as source:
        peak = Path(folder) / "peak"
        done = subprocess.run(
            [sys.executable, "-c", _PEAK_SHIM, str(peak), *ledger_command(), *args],
            stdin=source,
            capture_output=True,
            timeout=120,
        )
        return Done(done.returncode, done.stdout, done.stderr), int(peak.read_text()) * 1024


def test_12_20_a_line_over_2_mib_is_refused_early_in_bounded_memory(url: str, huge_line: Path) -> None:
    """A single 300 MB line peaked at 621 MB before exit 2. Refused naming its line, from a
    file and from standard input, without reading it whole: the peak stays far below its size."""
    small, base = _peak_rss(["--db", url, "import", "-", "--json"], stdin=None)
    assert small.code == 0, small
    from_file, file_peak = _peak_rss(["--db", url, "import", str(huge_line), "--json"])
    from_stdin, stdin_peak = _peak_rss(["--db", url, "import", "-", "--json"], stdin=huge_line)
    assert file_peak < base + 24 * MIB and stdin_peak < base + 24 * MIB, (base, file_peak, stdin_peak)
    for done in (from_file, from_stdin):
        error(done, "bad-input", 2, "2 MiB", line=2)
    assert cli("--db", url, "export").stdout == b""


def test_12_20_record_event_from_standard_input_over_2_mib(url: str, huge_line: Path) -> None:
    small, base = _peak_rss(["--db", url, "record", "--event", "-", "--json"])
    done, peak = _peak_rss(["--db", url, "record", "--event", "-", "--json"], stdin=huge_line)
    assert peak < base + 24 * MIB, (base, peak)
    error(small, "bad-input", 2, "event")
    error(done, "bad-input", 2, "event", "2 MiB")
    plain_error(cli("--db", url, "record", "--event", "-", stdin=b" " * (2 * MIB + 1)), 2, "event", "2 MiB")


def test_12_20_the_limit_is_exactly_2_mib_before_the_line_end(tmp_path: Path) -> None:
    """A line of exactly 2 MiB (JSON padded with blanks) is taken; one byte more is not."""
    url = f"sqlite:///{tmp_path / 'l.db'}"
    body = orjson.dumps(PARTNER)
    fits = body[:-1] + b" " * (2 * MIB - len(body)) + b"}"
    assert len(fits) == 2 * MIB
    over = fits[:-1] + b" }"
    done = cli("--db", url, "import", "-", "--json", stdin=jsonl([CUSTOMER, over]))
    error(done, "bad-input", 2, "2 MiB", line=2)
    done = cli("--db", url, "import", "-", "--json", stdin=jsonl([CUSTOMER, fits]))
    assert done.code == 0 and done.json()["imported"] == 2, done
    done = cli("--db", url, "record", "--event", "-", "--json", stdin=fits.replace(b"fabrikam", b"northwnd"))
    assert done.code == 0 and done.json()["position"] == 3, done


# --- 12.19: duplicate keys ---------------------------------------------------------------------

_TWICE = [
    # (JSON text of a customer.registered event with a key twice, the key it names)
    (b'"data": {"customer_id": "contoso", "name": "C", "cloud": "commercial"}, "data": {}', "data"),
    (
        b'"data": {"customer_id": "contoso", "customer_id": "fabrikam", "name": "C", "cloud": "china"}',
        "data.customer_id",
    ),
    (
        b'"data": {"customer_id": "contoso", "name": "C\\"o", "cloud": "china", "cloud": "commercial"}',
        "data.cloud",
    ),
    (b'"data": {"customer_id": "contoso", "name": "A", "n\\u0061me": "B", "cloud": "china"}', "data.name"),
    (b'"data": {"customer_id": "contoso", "name": "C", "cloud": "china"}, "note": "x", "note": "y"', "note"),
]
_ACTOR = b'"actor": {"id": "ops@contoso.example", "role": "global-admin", "tenant_id": "contoso"}'


def _twice(body: bytes) -> bytes:
    return (
        b'{"type": "customer.registered", "effective_at": "2019-01-01T00:00:00Z", '
        + _ACTOR
        + b", "
        + body
        + b"}"
    )


def test_12_19_a_key_twice_at_any_depth_is_refused_in_every_json_input(url: str) -> None:
    """`data` given twice stored the second, silently. Refused, naming the key and its path,
    by ``record --event`` (text and standard input) and ``import``; nothing is stored."""
    for body, key in _TWICE:
        text = _twice(body)
        orjson.loads(text)  # valid JSON, which orjson alone takes (the last one wins)
        done = cli("--db", url, "record", "--event", text.decode(), "--json")
        error(done, "bad-input", 2, f"{key} appears twice")
        plain_error(cli("--db", url, "record", "--event", "-", stdin=text), 2, f"{key} appears twice")
        done = cli("--db", url, "import", "-", "--json", stdin=jsonl([PARTNER, text]))
        error(done, "bad-input", 2, f"{key} appears twice", line=2)
    deep = _twice(b'"data": {"customer_id": "c", "name": "N", "cloud": "china"}, "x": [{"a": 1, "a": 2}]')
    error(
        cli("--db", url, "import", "-", "--json", stdin=deep), "bad-input", 2, "x[0].a appears twice", line=1
    )
    assert cli("--db", url, "export").stdout == b""


def test_12_19_a_key_twice_in_a_restore(url: str, fresh_url: str) -> None:
    """``import --restore``: an export line whose ``hash`` is given twice, the first one
    right (the last one won: the line restored)."""
    exported = loaded(url).splitlines()
    line = orjson.loads(exported[1])
    rest = orjson.dumps({k: v for k, v in line.items() if k != "hash"})
    forged = rest[:-1] + b', "hash": "' + b"0" * 64 + b'", "hash": "' + line["hash"].encode() + b'"}'
    assert orjson.loads(forged)["hash"] == line["hash"]
    done = cli("--db", fresh_url, "import", "--restore", "-", "--json", stdin=jsonl([exported[0], forged]))
    error(done, "bad-input", 2, "hash appears twice", line=2)
    assert cli("--db", fresh_url, "export").stdout == b""


# --- 12.22: invalid UTF-8 ----------------------------------------------------------------------


def test_12_22_invalid_utf8_names_the_line_and_the_byte(url: str) -> None:
    """Invalid UTF-8 said "surrogates not allowed"; now which line and which byte."""
    bad = orjson.dumps(CUSTOMER).replace(b"Contoso", b"Cont\xffso")
    offset = bad.index(b"\xff")
    done = cli("--db", url, "import", "-", "--json", stdin=jsonl([PARTNER, bad]))
    error(done, "bad-input", 2, f"not valid UTF-8 at byte offset {offset}", line=2)
    plain = cli("--db", url, "import", "-", stdin=jsonl([PARTNER, bad]))
    plain_error(plain, 2, f"not valid UTF-8 at byte offset {offset}", "line 2")
    done = cli("--db", url, "record", "--event", "-", "--json", stdin=bad)
    error(done, "bad-input", 2, f"event is not valid JSON (not valid UTF-8 at byte offset {offset})")
    assert cli("--db", url, "export").stdout == b""


# A JSON value as a tree whose objects are lists of pairs, so that a key may repeat.
_keys = st.text(alphabet='ab"\\\u00e9\u2028 ', min_size=0, max_size=3)
_leaves = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(alphabet='xy"\\:{},', max_size=4))
_trees = st.recursive(
    _leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(st.tuples(_keys, inner), max_size=4).map(lambda pairs: ("object", pairs)),
    ),
    max_leaves=12,
)


def _render(tree: Any, ascii_only: bool) -> str:
    if isinstance(tree, tuple):
        return (
            "{"
            + ", ".join(
                f"{json.dumps(k, ensure_ascii=ascii_only)}: {_render(v, ascii_only)}" for k, v in tree[1]
            )
            + "}"
        )
    if isinstance(tree, list):
        return "[" + ",".join(_render(v, ascii_only) for v in tree) + "]"
    return json.dumps(tree, ensure_ascii=ascii_only)


def _repeats(tree: Any) -> bool:
    if isinstance(tree, tuple):
        keys = [k for k, _ in tree[1]]
        return len(set(keys)) != len(keys) or any(_repeats(v) for _, v in tree[1])
    return isinstance(tree, list) and any(_repeats(v) for v in tree)


@given(tree=_trees, ascii_only=st.booleans())
@settings(max_examples=400, deadline=None)
def test_12_19_the_fast_check_is_exact(tree: Any, ascii_only: bool) -> None:
    """``load_json`` refuses a text exactly when some object in it repeats a key, whatever
    the strings hold (quotes, backslashes, colons, escapes)."""
    text = _render(tree, ascii_only).encode()
    if _repeats(tree):
        with pytest.raises(BadInput, match="appears twice"):
            load_json(text)
    else:
        assert load_json(text) == json.loads(text)


@pytest.mark.parametrize(
    ("text", "repeated"),
    [
        (rb'{"x": "\u0022\u0022\u0022\u0022", "x": "\u0022\u0022\u0022\u0022"}', "x"),  # as many quotes
        (rb'{"a": 1, "\u0061": 2}', "a"),
        (rb'{"k": {"": 1, "": 2}}', "k.''"),
        (rb'{"k": "\":", "v": ["\"a\": 1, \"a\": 2"]}', None),
        (b'{"k": "a", "l": "a"}', None),
    ],
)
def test_12_19_keys_spelt_with_escapes(text: bytes, repeated: str | None) -> None:
    if repeated is None:
        assert load_json(text) == json.loads(text)
    else:
        with pytest.raises(BadInput, match=f"^{re.escape(repeated)} appears twice$"):
            load_json(text)


# --- 12.16: one bad time freezes recorded time ------------------------------------------------


def _at(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def rechained(exported: bytes, recorded: dict[int, str]) -> bytes:
    """An export with the ``recorded_at`` of some positions changed and every hash computed
    again: a file whose chain verifies."""
    out, prev = [], GENESIS
    for line in exported.splitlines():
        event = orjson.loads(line)
        position, stored_at = event.pop("position"), event.pop("recorded_at")
        del event["prev_hash"], event["hash"]
        recorded_at = recorded.get(position, stored_at)
        digest = chain_hash(event, position, recorded_at, prev)
        out.append(
            {**event, "position": position, "recorded_at": recorded_at, "prev_hash": prev, "hash": digest}
        )
        prev = digest
    return jsonl(out)


def test_12_16_a_restore_whose_recorded_at_lies_in_the_future_is_refused(url: str, fresh_url: str) -> None:
    """A restored export whose last ``recorded_at`` is in year 8999 stamped every later event
    with that time (recorded time never goes back), so ``--known-at`` hid them all. Refused:
    exit 2 naming recorded_at and the line; 5 minutes ahead of the clock are tolerated."""
    exported = loaded(url)
    for far in ("8999-01-01T00:00:00Z", _at(timedelta(minutes=10))):
        done = cli(
            "--db", fresh_url, "import", "--restore", "-", "--json", stdin=rechained(exported, {2: far})
        )
        error(done, "bad-input", 2, "recorded_at", far, "future", line=2)
        assert cli("--db", fresh_url, "export").stdout == b""
    done = cli(
        "--db", fresh_url, "import", "--restore", "-", stdin=rechained(exported, {2: "8999-01-01T00:00:00Z"})
    )
    plain_error(done, 2, "recorded_at", "line 2")
    near = rechained(exported, {2: _at(timedelta(minutes=2))})
    assert cli("--db", fresh_url, "import", "--restore", "-", stdin=near).code == 0


_BEHIND = re.compile(
    r"the system clock \(\S+\) is behind the ledger's newest recorded time \((\S+)\); "
    r"recorded at (\S+) to keep the log in order"
)


def test_12_16_a_clock_behind_the_ledger_is_said(url: str, fresh_url: str) -> None:
    """A clock behind the newest recorded time (a forward jump since, or a restore from a
    machine ahead) silently stamped new events with the head's time. Recorded time stays
    monotonic (the head's time is reused), but the append says so: a ``LedgerWarning``, a
    ``warning:`` line on standard error, and ``warnings`` in the ``--json`` answer of
    ``record`` and ``import``."""
    ahead = _at(timedelta(minutes=3))
    near = rechained(loaded(url), {2: ahead})
    assert cli("--db", fresh_url, "import", "--restore", "-", stdin=near).code == 0

    event = raw(
        "customer.registered",
        "2019-01-01T00:00:00Z",
        "global-admin",
        "c1",
        customer_id="c1",
        name="C",
        cloud="china",
    )
    done = cli("--db", fresh_url, "record", "--event", orjson.dumps(event).decode(), "--json")
    assert done.code == 0, done
    answer = done.json()
    assert answer["recorded_at"] == ahead and answer["position"] == 3
    [warning] = answer["warnings"]
    assert _BEHIND.fullmatch(warning).groups() == (ahead, ahead), warning  # type: ignore[union-attr]
    assert done.err == f"warning: {warning}\n"

    second = {**event, "data": {**event["data"], "customer_id": "c2"}}
    done = cli("--db", fresh_url, "import", "-", stdin=jsonl([second]))
    assert done.code == 0 and done.err.startswith("warning: the system clock"), done
    assert "Imported 1 events" in done.stdout.decode()
    third = {**event, "event_id": str(uuid.uuid4()), "data": {**event["data"], "customer_id": "c3"}}
    done = cli("--db", fresh_url, "import", "-", "--json", stdin=jsonl([third]))
    assert done.code == 0 and _BEHIND.fullmatch(done.json()["warnings"][0]), done
    done = cli("--db", fresh_url, "record", "--event", orjson.dumps(third).decode(), "--json")
    assert done.code == 0 and "warnings" not in done.json() and done.err == "", done  # nothing recorded
    fourth = {**event, "data": {**event["data"], "customer_id": "c3"}}
    done = cli("--db", fresh_url, "record", "--event", orjson.dumps(fourth).decode(), "--json")
    error(done, "rule-violation", 3, "c3")
    assert done.err == "", done  # nothing recorded: nothing to say

    with Ledger(fresh_url) as ledger, pytest.warns(LedgerWarning, match="behind the ledger's newest"):
        receipt = ledger.record(parse_event({**event, "data": {**event["data"], "customer_id": "c4"}}))
    assert receipt.recorded_at == ahead


def test_12_22_an_offset_of_24_hours_is_named_plainly(url: str) -> None:
    """``+24:00`` said "offset must be a timedelta strictly between ... not
    datetime.timedelta(days=1)"."""
    for offset in ("+24:00", "-24:00", "+23:60"):
        event = {**CUSTOMER, "effective_at": f"2019-01-01T00:00:00{offset}"}
        done = cli("--db", url, "record", "--event", orjson.dumps(event).decode(), "--json")
        message = error(done, "bad-input", 2, "effective_at", offset, "between -23:59 and +23:59")
        assert "timedelta" not in message
    done = cli("--db", url, "history", "--until", "2019-01-01T00:00:00+24:00")  # history has no --as-of
    plain_error(done, 2, "--until", "between -23:59 and +23:59")


# --- 12.22: restores racing, an empty import, the restored head --------------------------------


def test_12_22_a_restore_that_loses_a_race_says_the_ledger_is_not_empty(url: str, fresh_url: str) -> None:
    """Two ``import --restore`` into one empty ledger: the loser said "appears twice" with
    exit 4, which reads as tampering. Emptiness is now checked under the write lock, in the
    append's transaction: here the other restore commits after this one found the ledger
    empty and before its transaction began."""
    lines = [(n, orjson.loads(line)) for n, line in enumerate(loaded(url).splitlines(), start=1)]
    with Ledger(fresh_url) as ours, Ledger(fresh_url) as theirs:

        def racing() -> Iterator[tuple[int, dict[str, Any]]]:
            theirs.restore(iter(lines))
            yield from lines

        with pytest.raises(BadInput, match="restore needs an empty ledger") as caught:
            ours.restore(racing())
        assert caught.value.exit_code == 2
        assert ours.head() == 2


def test_12_22_two_restores_at_once_through_the_command(url: str, fresh_url: str, tmp_path: Path) -> None:
    backup = tmp_path / "backup.jsonl"
    backup.write_bytes(loaded(url))
    args = [*ledger_command(), "--db", fresh_url, "import", "--restore", str(backup), "--json"]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    results = sorted((p.wait(timeout=120), *p.communicate()) for p in procs)
    assert [r[0] for r in results] == [0, 2], results
    assert "restore needs an empty ledger" in orjson.loads(results[1][1])["error"]["message"]


def test_12_22_an_empty_import_says_the_file_holds_no_events(url: str, tmp_path: Path) -> None:
    """An empty file said "Nothing new to import"; it holds no events (exit 0: not an error)."""
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    for args, stdin in (([str(empty)], b""), (["-"], b"\n  \n")):
        done = cli("--db", url, "import", *args, stdin=stdin)
        assert done.code == 0 and "holds no events" in done.stdout.decode(), done
        done = cli("--db", url, "import", *args, "--json", stdin=stdin)
        assert done.json() == {
            "imported": 0,
            "duplicates": 0,
            "first_position": None,
            "last_position": None,
            "head": 0,
        }
        done = cli("--db", url, "import", "--restore", *args, stdin=stdin)
        assert done.code == 0 and "holds no events" in done.stdout.decode(), done
    again = jsonl([{**PARTNER, "event_id": str(uuid.uuid4())}])
    assert cli("--db", url, "import", "-", stdin=again).code == 0
    done = cli("--db", url, "import", "-", stdin=again)  # events, all stored already
    assert done.code == 0 and done.stdout == b"Nothing new to import; 1 already stored.\n", done


def test_12_22_a_restore_shows_its_head_and_checks_the_auditors_digest(url: str, fresh_url: str) -> None:
    """A restore of an export cut at a line boundary succeeded, showing no head. It shows the
    restored head (position, hash), and ``--digest HASH`` refuses the restore whole (exit 4)
    unless the restored chain holds that hash, as ``verify --digest`` does."""
    exported = loaded(url)
    head = cli("--db", url, "verify", "--json").json()["head"]
    first = orjson.loads(exported.splitlines()[0])["hash"]
    cut = exported.splitlines(keepends=True)[0]

    done = cli("--db", fresh_url, "import", "--restore", "-", "--digest", head, "--json", stdin=cut)
    message = error(done, "integrity", 4, head)
    assert "nothing was restored" in message
    assert cli("--db", fresh_url, "export").stdout == b""
    done = cli("--db", fresh_url, "import", "--restore", "-", "--digest", head.upper(), stdin=cut)
    plain_error(done, 4, head)
    done = cli("--db", fresh_url, "import", "--restore", "-", "--digest", "abc", "--json", stdin=cut)
    error(done, "bad-input", 2, "digest", "64 hexadecimal digits")

    done = cli("--db", fresh_url, "import", "--restore", "-", "--digest", first, stdin=cut)
    assert done.code == 0 and f"position 1, hash {first}" in done.stdout.decode(), done
    assert first in done.stdout.decode()

    other = cli("--db", fresh_url, "import", "--restore", "-", "--json", stdin=exported)
    error(other, "bad-input", 2, "restore needs an empty ledger")


def test_12_22_a_whole_restore_with_the_digest(url: str, fresh_url: str) -> None:
    exported = loaded(url)
    head = cli("--db", url, "verify", "--json").json()["head"]
    done = cli("--db", fresh_url, "import", "--restore", "-", "--digest", head, "--json", stdin=exported)
    assert done.code == 0, done
    assert done.json() == {"restored": 2, "head": head, "head_position": 2, "extends": head}
