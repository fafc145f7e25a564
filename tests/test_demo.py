"""The demo's story, ``cli/demo.jsonl``: every attempt goes as the story tells it (the refused
ones refused by the rule it names, on both stores), and an installed ``ledger`` (not editable,
run from another folder) has the story and tells it, and has the report and its template."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
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
    assert len(lines) == len(demo.steps()) == 71
    assert len({s.event.event_id for s in demo.steps()}) == len(lines)
    assert all(set(orjson.loads(line)) <= {"story", "refused_by", "event"} for line in lines)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh virtualenv with the project installed as a user would (``pip install .``, not
    editable), built from a copy of what the package is made of (nothing else of the
    checkout); its dependencies are this environment's (a ``.pth`` naming its site-packages,
    whose own ``.pth`` files, the editable install's finder among them, are not run)."""
    work = tmp_path_factory.mktemp("installed")
    source = work / "source"
    for part in ("ledger", "projections", "cli"):
        shutil.copytree(ROOT / part, source / part, ignore=shutil.ignore_patterns("__pycache__"))
    for part in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / part, source / part)
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    pip = [
        sys.executable,
        "-m",
        "pip",
        "--python",
        str(python),
        "install",
        "-q",
        "--disable-pip-version-check",
    ]
    done = subprocess.run([*pip, "--no-deps", str(source)], capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        check=True,
    )
    (Path(site.stdout.decode().strip()) / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    yield venv


def test_an_installed_ledger_tells_the_demo_and_reports(installed: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("LEDGER_DB", "PYTHONPATH")}
    where = subprocess.run(
        [
            str(installed / "bin" / "python"),
            "-c",
            "import cli._demo, cli._report; print(cli._report.__file__)",
        ],
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
    assert orjson.loads(done.stdout)["verified"] == 60
    page = tmp_path / "contoso.html"
    report = [*command[:-1], "report", "contoso", "--out", str(page), "--json"]
    done = subprocess.run(report, capture_output=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert "Relationship history of Contoso Ltd" in page.read_text(encoding="utf-8")
