"""Issue 12 ("Hardening"): what the ledger does with hostile or unlucky input and output.

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
- 12.20 a line longer than the limit (1 MiB) is refused early, in bounded memory, naming its
  line; the same for ``record --event -``.
- 12.21 files are created owner-only: the SQLite database and its -wal and -shm, exports,
  reports, the spool of standard input.
- 12.22 messages: a full disk or a folder as the output (no traceback, no ``*.partial`` left),
  two concurrent restores into one empty ledger, invalid UTF-8, an offset of ``+24:00``, an
  empty import file, and the restored head with ``import --restore --digest``.

Most run the installed ``ledger`` console script as a user would, on both stores.
"""

from __future__ import annotations

import os
import resource
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from ledger import Ledger

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
    time.sleep(2.5)
    spools = _spools(proc.pid)
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


def test_12_20_a_line_over_1_mib_is_refused_early_in_bounded_memory(url: str, huge_line: Path) -> None:
    """A single 300 MB line peaked at 621 MB before exit 2. Refused naming its line, from a
    file and from standard input, without reading it whole: the peak stays far below its size."""
    small, base = _peak_rss(["--db", url, "import", "-", "--json"], stdin=None)
    assert small.code == 0, small
    from_file, file_peak = _peak_rss(["--db", url, "import", str(huge_line), "--json"])
    from_stdin, stdin_peak = _peak_rss(["--db", url, "import", "-", "--json"], stdin=huge_line)
    assert file_peak < base + 24 * MIB and stdin_peak < base + 24 * MIB, (base, file_peak, stdin_peak)
    for done in (from_file, from_stdin):
        error(done, "bad-input", 2, "1 MiB", line=2)
    assert cli("--db", url, "export").stdout == b""


def test_12_20_record_event_from_standard_input_over_1_mib(url: str, huge_line: Path) -> None:
    small, base = _peak_rss(["--db", url, "record", "--event", "-", "--json"])
    done, peak = _peak_rss(["--db", url, "record", "--event", "-", "--json"], stdin=huge_line)
    assert peak < base + 24 * MIB, (base, peak)
    error(small, "bad-input", 2, "event")
    error(done, "bad-input", 2, "event", "1 MiB")
    plain_error(cli("--db", url, "record", "--event", "-", stdin=b" " * (MIB + 1)), 2, "event", "1 MiB")


def test_12_20_the_limit_is_exactly_1_mib_before_the_line_end(tmp_path: Path) -> None:
    """A line of exactly 1 MiB (JSON padded with blanks) is taken; one byte more is not."""
    url = f"sqlite:///{tmp_path / 'l.db'}"
    body = orjson.dumps(PARTNER)
    fits = body[:-1] + b" " * (MIB - len(body)) + b"}"
    assert len(fits) == MIB
    over = fits[:-1] + b" }"
    done = cli("--db", url, "import", "-", "--json", stdin=jsonl([CUSTOMER, over]))
    error(done, "bad-input", 2, "1 MiB", line=2)
    done = cli("--db", url, "import", "-", "--json", stdin=jsonl([CUSTOMER, fits]))
    assert done.code == 0 and done.json()["imported"] == 2, done
    done = cli("--db", url, "record", "--event", "-", "--json", stdin=fits.replace(b"fabrikam", b"northwnd"))
    assert done.code == 0 and done.json()["position"] == 3, done
