"""Running the installed ``ledger`` console script as a user would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson


def ledger_command() -> list[str]:
    beside = Path(sys.executable).parent / "ledger"
    found = str(beside) if beside.exists() else shutil.which("ledger")
    assert found, "the ledger console script is installed"
    return [found]


def run(
    *args: str, stdin: bytes | None = None, cwd: Path | None = None, columns: int | None = None
) -> subprocess.CompletedProcess[bytes]:
    """``ledger ARGS``; ``columns``: output that wide (``COLUMNS``), else as the environment says."""
    env = None if columns is None else {**os.environ, "COLUMNS": str(columns)}
    return subprocess.run(
        [*ledger_command(), *args], input=stdin, capture_output=True, cwd=cwd, timeout=120, env=env
    )


def run_json(*args: str, expect: int = 0) -> Any:
    done = run(*args, "--json")
    assert done.returncode == expect, (args, done.returncode, done.stdout, done.stderr)
    assert b"Traceback" not in done.stderr
    return orjson.loads(done.stdout)
