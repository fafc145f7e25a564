"""The README's auditor walk-through, executed as written (after `ledger demo`, on SQLite)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import orjson

from ledger import Ledger

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


def security_examples() -> list[tuple[str, int]]:
    """The Security section's console block: each command with the exit code its comment names."""
    section = README.read_text().split("## Security", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```console\n(.*?)```", section, re.S)
    assert block is not None, "the Security section has a console block"
    examples = []
    for line in block.group(1).splitlines():
        command, comment = line[2:].split("#", 1)
        code = re.match(r"\s*exit (\d+)", comment)
        assert code is not None, f"{line}: its comment names its exit code"
        examples.append((command.strip(), int(code.group(1))))
    return examples


def test_the_security_examples_run_as_written(tmp_path: Path) -> None:
    examples = security_examples()
    assert len(examples) >= 4
    subprocess.run([*ledger_command(), "demo"], cwd=tmp_path, check=True, capture_output=True)
    before = (tmp_path / "ledger.db").read_bytes()
    for command, expected in examples:
        argv = shlex.split(command)
        assert argv[0] == "ledger"
        done = subprocess.run([*ledger_command(), *argv[1:]], cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == expected, f"{command}: {done.stderr}"
        assert "Traceback" not in done.stderr
        for secret in re.findall(r"://[^:/]+:([^@]+)@", command):
            assert secret not in done.stdout + done.stderr, command
    assert (tmp_path / "ledger.db").read_bytes() == before  # nothing wrote over the ledger


def rulebook_examples() -> list[tuple[str, int, str]]:
    """The rulebook section's console block: each command, the exit code its comment names
    (0 where none) and the comment."""
    section = README.read_text().split("## The rulebook", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```console\n(.*?)```", section, re.S)
    assert block is not None, "the rulebook section has a console block"
    examples = []
    for line in block.group(1).splitlines():
        command, comment = line[2:].split("   #", 1)
        code = re.match(r"\s*exit (\d+)", comment)
        examples.append((command.strip(), int(code.group(1)) if code else 0, comment.strip()))
    return examples


def test_the_rulebook_examples_run_as_written(tmp_path: Path) -> None:
    examples = rulebook_examples()
    assert [c for c, _, _ in examples][:2] == ["ledger rules", "ledger rules --json"]
    subprocess.run([*ledger_command(), "demo"], cwd=tmp_path, check=True, capture_output=True)
    for command, expected, comment in examples:
        argv = shlex.split(command)
        done = subprocess.run([*ledger_command(), *argv[1:]], cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == expected, f"{command}: {done.stderr}"
        assert "Traceback" not in done.stderr
        if expected == 3:  # the refusal names the rule and edition its comment names
            named = re.search(r"exit 3: (\S+) \(edition ([^)]+)\)", comment)
            assert named is not None
            assert f"{named.group(1)} (edition {named.group(2)})" in done.stderr
        elif "--json" in argv:
            shape = orjson.loads(done.stdout)
            keys = {"name", "since", "until", "clouds", "says", "source"}
            assert all(set(r) == {"id", "summary", "editions"} for r in shape["rules"])
            assert all(set(e) == keys for r in shape["rules"] for e in r["editions"])


def partner_center_section() -> str:
    return README.read_text().split("## From Partner Center", 1)[1].split("\n## ", 1)[0]


def partner_center_commands() -> list[str]:
    """The section's ``ledger`` lines (its console block), comments dropped: run by the tests.
    Its ``sh`` blocks are what is run against Microsoft, never here."""
    blocks = re.findall(r"```console\n(.*?)```", partner_center_section(), re.S)
    assert len(blocks) == 1, "the section has one console block"
    return [
        re.sub(r"\s+#.*$", "", line[2:]).strip() for line in blocks[0].splitlines() if line.startswith("$ ")
    ]


def test_the_partner_center_section_names_the_real_commands() -> None:
    """What is run against Microsoft is shown as such (sh blocks), with the real names."""
    shell = "\n".join(re.findall(r"```sh\n(.*?)```", partner_center_section(), re.S))
    for name in (
        "Connect-PartnerCenter",
        "Get-PartnerCustomerSubscription",
        "Get-MgTenantRelationshipDelegatedAdminRelationship",
        "Get-PartnerAuditRecord",
        "Get-PartnerCustomer",
        "Get-PartnerIndirectReseller",
        "az rest",
        "Invoke-RestMethod",
        "https://graph.microsoft.com/v1.0/tenantRelationships/delegatedAdminRelationships",
    ):
        assert name in shell, name
    assert "$ ledger" not in shell


def test_the_partner_center_section_runs_as_written(tmp_path: Path) -> None:
    """On a fresh ledger, from the repository's folder (where the sample paths lead), every
    ``ledger`` line exits 0, prints JSON where it says --json, and the dry run stores nothing."""
    commands = partner_center_commands()
    assert sum(c.startswith("ledger ingest ") for c in commands) >= 6
    sources = {shlex.split(c)[2] for c in commands if c.startswith("ledger ingest ")}
    assert sources == {
        "pc-audit",
        "graph-gdap",
        "pc-customers",
        "pc-subscriptions",
        "pc-transfers",
        "pc-resellers",
    }
    db = tmp_path / "ledger.db"
    env = {**os.environ, "LEDGER_DB": f"sqlite:///{db}"}
    for command in commands:
        argv = shlex.split(command)
        assert argv[0] == "ledger"
        before = _head(db)
        done = subprocess.run(
            [*ledger_command(), *argv[1:]], cwd=README.parent, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, f"{command}: {done.stdout} {done.stderr}"
        assert "Traceback" not in done.stderr
        if "--json" in argv:
            answer = orjson.loads(done.stdout)
            if argv[1] == "ingest" and argv[2] == "pc-audit":  # the second time: nothing new
                assert answer["recorded"] == 0 and answer["already_recorded"] > 0, answer
        if "--dry-run" in argv:
            assert _head(db) == before, f"{command} stored something"


def _head(db: Path) -> int:
    """The number of events stored (0 before the store exists)."""
    if not db.exists():
        return 0
    with Ledger(f"sqlite:///{db}") as ledger:
        return ledger.head()
