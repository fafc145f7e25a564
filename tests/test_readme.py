"""The README's auditor walk-through, executed as written (after `ledger demo`, on SQLite)."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import orjson

from clitools import ledger_command

README = Path(__file__).resolve().parent.parent / "README.md"


def walkthrough() -> list[str]:
    text = README.read_text()
    section = text.split("## The auditor's walk-through", 1)[1]
    block = re.search(r"```console\n(.*?)```", section, re.S)
    assert block is not None, "the walk-through has a console block"
    return [
        re.sub(r"\s+#.*$", "", line[2:]).strip()
        for line in block.group(1).splitlines()
        if line.startswith("$ ")
    ]


def test_the_walkthrough_runs_as_written(tmp_path: Path) -> None:
    commands = walkthrough()
    assert len(commands) >= 8
    subprocess.run([*ledger_command(), "demo"], cwd=tmp_path, check=True, capture_output=True)
    for command in commands:
        argv = shlex.split(command)
        assert argv[0] == "ledger"
        done = subprocess.run([*ledger_command(), *argv[1:]], cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, f"{command}: {done.stderr}"
        assert "Traceback" not in done.stderr
        if "--json" in argv:
            orjson.loads(done.stdout)
    restored = subprocess.run(
        [*ledger_command(), "--db", "sqlite:///copy.db", "export"], cwd=tmp_path, capture_output=True
    )
    assert restored.stdout == (tmp_path / "audit.jsonl").read_bytes()
