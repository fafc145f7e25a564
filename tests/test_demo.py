"""The demo's story, ``cli/demo.jsonl``: every attempt goes as the story tells it (the refused
ones refused by the rule it names, on both stores), and an installed ``ledger`` (not editable,
run from another folder) has the story and tells it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from cli import _demo as demo
from ledger import RULE_IDS, Ledger

from clitools import run_json

ROOT = Path(__file__).resolve().parent.parent


def test_every_step_goes_as_told(ledger: Ledger) -> None:
    steps = demo.steps()
    assert {s.expect for s in steps if s.expect} <= set(RULE_IDS)
    outcomes = demo.load(ledger)
    assert [o.rejected_by for o in outcomes] == [s.expect for s in steps]
    assert demo.already_loaded(ledger) and demo.stored_foreign_events(ledger) == 0


def test_the_story_has_one_step_a_line_with_unique_ids() -> None:
    lines = (ROOT / "cli" / demo.STORY).read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(demo.steps()) == 37
    assert len({s.event.event_id for s in demo.steps()}) == len(lines)
    assert all(set(orjson.loads(line)) <= {"story", "refused_by", "event"} for line in lines)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The project installed as a user would (``pip install .``, not editable) into a folder of
    its own, built from a copy of what the package is made of (nothing else of the checkout)."""
    work = tmp_path_factory.mktemp("installed")
    source = work / "source"
    for part in ("ledger", "projections", "cli"):
        shutil.copytree(ROOT / part, source / part, ignore=shutil.ignore_patterns("__pycache__"))
    for part in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / part, source / part)
    target = work / "site"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps"]
    done = subprocess.run([*pip, "--target", str(target), str(source)], capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    yield target


def test_an_installed_ledger_tells_the_demo(installed: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(installed)}  # before the editable checkout
    env.pop("LEDGER_DB", None)
    where = subprocess.run(
        [sys.executable, "-c", "import cli._demo; print(cli._demo.__file__)"],
        capture_output=True,
        env=env,
        cwd=tmp_path,
        check=True,
    )
    assert Path(where.stdout.decode().strip()).is_relative_to(installed)
    command = [str(installed / "bin" / "ledger"), "--db", f"sqlite:///{tmp_path / 'demo.db'}", "demo"]
    done = subprocess.run([*command, "--json"], capture_output=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    checkout = run_json("--db", f"sqlite:///{tmp_path / 'checkout.db'}", "demo")
    assert orjson.loads(done.stdout)["steps"] == checkout["steps"]
    assert orjson.loads(done.stdout)["verified"] == 30
