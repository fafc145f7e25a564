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
