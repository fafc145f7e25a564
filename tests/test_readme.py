"""Every console example in README.md and docs/*.md, run as written (as sqlite-utils and typer
do with theirs), so none can go stale.

A ```console block is a session at a shell in a fresh folder: the clone's root as a newcomer
has it (a copy of ``samples/``, no ledger yet), with no ``LEDGER_*`` variable and no user
``ledger.toml``. Its ``$ `` lines run in order through bash, each with what ``export`` lines
before it set; a command may go on over several lines (a trailing backslash, or a quote left
open). The lines after a command, up to the next ``$ ``, are what it shows: its standard output
and its standard error (in either order) must match them, line by line, where ``…`` stands for any text
within a line (ids, hashes, times) and a line of ``…`` alone for any number of lines. A
command's comment ``# exit N`` is the exit code it must end with (0 where none is named).

HTML comments right before a block set it up: ``<!-- setup: demo -->`` starts from the demo's
ledger (``ledger demo`` into ``./ledger.db``), ``<!-- env: NAME=value NAME=value -->`` sets
variables for the whole block. Blocks of other languages (```sh for other systems, ```json)
are not run. The examples run on the store they name, as a user types them (SQLite by
default); a block that leaves the store to its environment (no ``LEDGER_DB``, no ``ledger.db``)
runs on PostgreSQL too, with ``LEDGER_DB`` naming a fresh schema.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest
import typer
from typer.core import TyperGroup

from cli.app import app

from clitools import ledger_command

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
ELLIPSIS = "…"


@dataclass
class Step:
    """One ``$ `` command of a block: its text as typed, the exit code it names, what it shows."""

    command: str
    line: int
    shown: list[str] = field(default_factory=list)

    @property
    def comment(self) -> str:
        """The shell comment ending the command (a ``#`` that starts a word outside quotes)."""
        for found in re.finditer(r"(?<=\s)#", self.command):
            try:
                shlex.split(self.command[: found.start()])
            except ValueError:  # the '#' is inside quotes
                continue
            return self.command[found.end() :].strip()
        return ""

    @property
    def expected_exit(self) -> int:
        code = re.match(r"exit (\d+)", self.comment)
        return int(code.group(1)) if code else 0

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.command, comments=True)


@dataclass
class Block:
    """One ```console block of a page, with the setup its HTML comments declare."""

    page: Path
    line: int
    steps: list[Step]
    setup: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def _complete(command: str) -> bool:
    """Whether a shell would run ``command`` as it stands (no continuation, no open quote)."""
    if command.endswith("\\"):
        return False
    try:
        shlex.split(command, comments=True)
    except ValueError:
        return False
    return True


def _steps(lines: list[tuple[int, str]]) -> list[Step]:
    steps: list[Step] = []
    pending: Step | None = None
    for number, text in lines:
        if pending is not None:
            pending.command += "\n" + text
        elif text.startswith("$ "):
            pending = Step(text[2:], number)
        elif steps:
            steps[-1].shown.append(text)
        else:
            raise AssertionError(f"line {number}: a console block starts with a '$ ' command")
        if pending is not None and _complete(pending.command):
            steps.append(pending)
            pending = None
    assert pending is None, f"line {lines[-1][0]}: a command is left unfinished"
    for step in steps:
        while step.shown and not step.shown[-1].strip():
            step.shown.pop()
    return steps


def console_blocks(page: Path) -> list[Block]:
    """Every ```console block of ``page``, with the setup its preceding comments declare."""
    blocks: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    comments: list[str] = []
    index = 0
    while index < len(lines):
        text = lines[index].strip()
        if text.startswith("```"):
            end = next(i for i in range(index + 1, len(lines)) if lines[i].strip() == "```")
            if text == "```console":
                body = [(i + 1, lines[i]) for i in range(index + 1, end)]
                block = Block(page, index + 1, _steps(body))
                for comment in comments:
                    kind, _, value = comment.partition(":")
                    if kind.strip() == "setup":
                        block.setup += value.split()
                    elif kind.strip() == "env":
                        for word in shlex.split(value):
                            name, _, setting = word.partition("=")
                            block.env[name] = setting
                    else:
                        raise AssertionError(f"{page.name}:{index + 1}: unknown declaration {comment!r}")
                blocks.append(block)
            comments = []
            index = end + 1
            continue
        declared = re.fullmatch(r"<!--\s*([a-z]+):(.*?)-->", text)  # a misspelt one is an error
        if declared:
            comments.append(f"{declared.group(1)}:{declared.group(2)}")
        elif text:
            comments = []
        index += 1
    return blocks


BLOCKS = [block for page in PAGES for block in console_blocks(page)]


def _pattern(shown: list[str]) -> re.Pattern[str]:
    """What a block shows as a pattern of the whole output: ``…`` any text within a line, a
    line of ``…`` alone any number of lines."""
    parts = []
    for line in shown:
        if line.strip() == ELLIPSIS:
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            pieces = (re.escape(piece) for piece in line.rstrip().split(ELLIPSIS))
            parts.append(r"[^\n]*?".join(pieces) + r"[ \t]*\n")
    return re.compile("".join(parts))


def matches(shown: list[str], output: str) -> bool:
    text = "".join(line.rstrip() + "\n" for line in output.splitlines())
    return _pattern(shown).fullmatch(text) is not None


def _environment(folder: Path, block: Block) -> dict[str, str]:
    """A newcomer's shell: ``ledger`` on the PATH, no ``LEDGER_*`` variable of ours, no user
    ``ledger.toml`` (a home of its own), and a terminal wide enough that no sentence the pages
    show is wrapped (the pages show sentences and JSON, not tables, whose layout is the
    terminal's)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    bin_dir = str(Path(ledger_command()[0]).parent)
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        HOME=str(folder / ".home"),
        XDG_CONFIG_HOME=str(folder / ".home" / ".config"),
        COLUMNS="500",
    )
    env.update(block.env)
    return env


@dataclass
class Ran:
    step: Step
    code: int
    stdout: str
    stderr: str


def run_block(block: Block, folder: Path) -> list[Ran]:
    """Run ``block`` in ``folder`` as the module says, asserting each step; what each gave."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "samples", folder / "samples")
    env = _environment(folder, block)
    for setup in block.setup:
        assert setup == "demo", f"{block.name}: unknown setup {setup!r}"
        subprocess.run(["ledger", "demo"], cwd=folder, env=env, check=True, capture_output=True, timeout=120)
    ran = []
    for step in block.steps:
        where = f"{block.name}, line {step.line}: {step.command}"
        argv = step.argv
        if argv[0] == "export":  # a variable for the commands after it, as a shell keeps it
            for word in argv[1:]:
                name, _, value = word.partition("=")
                env[name] = value
            assert not step.shown, where
            continue
        assert argv[0] == "ledger", f"{where}: a console example runs ledger (or export)"
        done = subprocess.run(
            ["bash", "-o", "pipefail", "-c", step.command],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        said = f"{where}\nexit {done.returncode}\n--- stdout\n{done.stdout}--- stderr\n{done.stderr}"
        assert done.returncode == step.expected_exit, said
        assert "Traceback" not in done.stderr, said
        if "--json" in argv and done.returncode == 0 and ">" not in argv:
            orjson.loads(done.stdout)
        for secret in re.findall(r"://[^:/@\s]+:([^@\s]+)@", step.command):
            assert secret not in done.stdout + done.stderr, f"{where}: the password is shown"
        if step.shown:  # as a terminal shows them: standard error may come first
            shown = matches(step.shown, done.stdout + done.stderr) or matches(
                step.shown, done.stderr + done.stdout
            )
            assert shown, "\n".join([said, "--- shown", *step.shown])
        ran.append(Ran(step, done.returncode, done.stdout, done.stderr))
    return ran


@pytest.mark.parametrize("block", BLOCKS, ids=[b.name for b in BLOCKS])
def test_the_console_example_runs_as_written(block: Block, tmp_path: Path) -> None:
    assert block.steps, f"{block.name}: a console block runs something"
    folder = tmp_path / "clone"
    run_block(block, folder)
    _restored_the_same(block, folder)


def _restored_the_same(block: Block, folder: Path) -> None:
    """After the walk-through: its restore is the very log it exported (same positions, same
    hashes, same bytes)."""
    if block.page == README and block.line == WALKTHROUGH_LINE:
        restored = subprocess.run(
            ["ledger", "--db", "sqlite:///copy.db", "export"],
            cwd=folder,
            env=_environment(folder, block),
            capture_output=True,
            check=True,
        )
        assert restored.stdout == (folder / "audit.jsonl").read_bytes()


def _names_no_store(block: Block) -> bool:
    """Whether ``block`` leaves the store to its environment (no ``LEDGER_DB`` of its own, no
    ``ledger.db`` named), so that it runs on any store as written."""
    text = "\n".join(step.command for step in block.steps)
    return "LEDGER_DB" not in text and "ledger.db" not in text and "LEDGER_DB" not in block.env


ANY_STORE = [block for block in BLOCKS if _names_no_store(block)]


@pytest.mark.postgres
@pytest.mark.parametrize("block", ANY_STORE, ids=[b.name for b in ANY_STORE])
def test_the_console_example_runs_on_postgresql_too(block: Block, pg_url: str, tmp_path: Path) -> None:
    """A block that leaves the store to its environment runs as written with ``LEDGER_DB``
    naming a PostgreSQL store (the demo too, where it starts from it)."""
    on_postgresql = Block(
        block.page, block.line, block.steps, block.setup, {**block.env, "LEDGER_DB": pg_url}
    )
    run_block(on_postgresql, tmp_path)
    assert not (tmp_path / "ledger.db").exists()
    _restored_the_same(on_postgresql, tmp_path)


def _section(page: Path, heading: str) -> list[Block]:
    """The blocks under ``heading`` of ``page``, up to the next heading of its level or above."""
    lines = page.read_text(encoding="utf-8").splitlines()
    assert heading in lines, f"{page.name} has the section {heading!r}"
    start = lines.index(heading) + 1
    level = heading.split(" ")[0]
    ends = [n for n, text in enumerate(lines, 1) if n > start and re.match(rf"#{{1,{len(level)}}} ", text)]
    end = ends[0] if ends else len(lines) + 1
    return [b for b in BLOCKS if b.page == page and start < b.line < end]


WALKTHROUGH_LINE = _section(README, "## The auditor's walk-through")[0].line


def test_the_pages_hold_the_examples_the_runner_finds() -> None:
    """The runner is not vacuous: the README's tour and walk-through, the security page's
    refusals and the rulebook page's refusal are among the blocks it runs."""
    tour = [s for b in _section(README, "## A five-minute tour") for s in b.steps]
    assert [s.argv[:2] for s in tour if s.argv[0] == "ledger"][:2] == [
        ["ledger", "import"],
        ["ledger", "por"],
    ]
    assert {"record", "import", "por", "customer", "delegations", "history", "verify", "export"} <= {
        s.argv[1] for s in tour if s.argv[0] == "ledger"
    }
    assert any(s.expected_exit == 3 for s in tour) and any(s.shown for s in tour)
    walk = _section(README, "## The auditor's walk-through")
    assert walk and walk[0].setup == ["demo"] and len(walk[0].steps) >= 8
    security = [s for b in BLOCKS if b.page.name == "security.md" for s in b.steps]
    assert len(security) >= 4 and {s.expected_exit for s in security} >= {1, 2}
    assert any(s.expected_exit == 3 for b in BLOCKS if b.page.name == "rulebook.md" for s in b.steps)


def test_the_matcher_takes_wildcards_and_refuses_a_difference() -> None:
    shown = ["Recorded x at position 1 (event …, hash …).", "…", "done"]
    assert matches(shown, "Recorded x at position 1 (event ab-1, hash 12).\nmore\nlines\ndone\n")
    assert matches(shown, "Recorded x at position 1 (event ab-1, hash 12).\ndone")
    assert not matches(shown, "Recorded x at position 2 (event ab-1, hash 12).\ndone\n")
    assert not matches(shown, "Recorded x at position 1 (event ab-1, hash 12).\ndone\nextra\n")
    assert not matches(["a … b"], "a x\ny b\n")  # '…' stays within its line


def test_a_block_is_parsed_as_a_shell_reads_it(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- setup: demo -->\n<!-- env: A=1 B='two words' -->\n```console\n"
        "$ ledger record --event '{\"a\":\n  1}' # exit 2: bad input\n"
        "shown\n\n$ ledger por x \\\n  --json   # not an exit\n```\n"
        "```sh\n$ ledger not run\n```\n",
        encoding="utf-8",
    )
    (block,) = console_blocks(page)
    assert block.setup == ["demo"] and block.env == {"A": "1", "B": "two words"}
    first, second = block.steps
    assert first.argv == ["ledger", "record", "--event", '{"a":\n  1}'] and first.expected_exit == 2
    assert first.shown == ["shown"] and second.expected_exit == 0 and second.argv[-1] == "--json"
    page.write_text("<!-- setpu: demo -->\n```console\n$ ledger rules\n```\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="unknown declaration"):
        console_blocks(page)


# --- the pages name what exists ----------------------------------------------------------------


def _command_lines(command: object, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    if isinstance(command, TyperGroup):
        for name, sub in command.commands.items():
            found += _command_lines(sub, (*path, name))
    return found


def test_every_command_is_named_in_the_contract_or_a_docs_page() -> None:
    """Each of ``ledger``'s commands (typer's own list) is named as ``ledger NAME`` in
    docs/contract.md or another docs page, and each type ``record`` takes is in the
    contract's table of types."""
    contract = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
    docs = "\n".join(page.read_text(encoding="utf-8") for page in PAGES[1:])
    lines = [line for line in _command_lines(typer.main.get_command(app)) if line]
    for line in lines:
        if len(line) == 1:
            assert re.search(rf"`ledger {re.escape(line[0])}[ `]", docs), f"ledger {line[0]} is in docs/"
        else:
            assert line[0] == "record" and f"| `{line[1]}` |" in contract, line
    assert len(lines) > 16


def test_the_contract_says_which_of_its_commands_are_not_built_yet() -> None:
    """A command of the contract's table is one ``ledger`` has, or is marked as not built yet
    (and then it really is not: the mark goes when it lands)."""
    contract = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
    have = {line[0] for line in _command_lines(typer.main.get_command(app)) if line}
    rows = re.findall(r"^\| `ledger (\S+?)[ `].*$", contract, re.M)
    assert {"record", "import", "por", "rules"} <= set(rows)
    for row in re.findall(r"^\| `ledger (\S+?)[ `].*$", contract, re.M):
        marked = re.search(rf"^\| `ledger {re.escape(row)}[ `].*not built yet.*$", contract, re.M)
        assert (row in have) != bool(marked), f"ledger {row}: built {row in have}, marked {bool(marked)}"


def test_docs_links_lead_to_pages_that_exist() -> None:
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#:]+?)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if target == "docs/sources.md" or (page.parent.name == "docs" and target == "sources.md"):
                continue  # written by the Partner Center work, which lands on its own
            assert (page.parent / target).exists(), f"{page.name} links to {target}"


def test_the_rulebook_page_is_ledger_rules_markdown(tmp_path: Path) -> None:
    """docs/rulebook.md's rules are ``ledger rules --markdown``'s output, a section per rule with
    a row per edition (scripts/rulebook.sh writes them again)."""
    page = (ROOT / "docs" / "rulebook.md").read_text(encoding="utf-8")
    marker = "<!-- generated by `ledger rules --markdown`"
    assert page.count(marker) == 1
    generated = page.split(marker, 1)[1].split("\n", 1)[1]
    done = subprocess.run(
        [*ledger_command(), "rules", "--markdown"], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0 and generated == "\n" + done.stdout, "run scripts/rulebook.sh"
    answer = orjson.loads(subprocess.check_output([*ledger_command(), "rules", "--json"], cwd=tmp_path))
    headings = re.findall(r"^### `(.+)`$", generated, re.M)
    assert headings == [rule["id"] for rule in answer["rules"]]
    for rule, section in zip(answer["rules"], re.split(r"^### .*$", generated, flags=re.M)[1:], strict=True):
        rows = [
            row for row in section.splitlines() if row.startswith("| ") and not row.startswith("| edition")
        ]
        assert [row.split(" | ")[0][2:] for row in rows] == [e["name"] for e in rule["editions"]]
    both = subprocess.run(
        [*ledger_command(), "rules", "--markdown", "--json"], capture_output=True, cwd=tmp_path
    )
    assert both.returncode == 2 and orjson.loads(both.stdout)["error"]["fields"] == ["--markdown"]


def test_the_readme_counts_the_demo_as_it_is() -> None:
    """The README's numbers about the demo are the demo's: its steps, the events it stores and
    the attempts the rulebook refuses (the walk-through's proofs are tied to the same count)."""
    from cli import _demo as demo

    steps = demo.steps()
    refused = sum(1 for s in steps if s.expect is not None)
    text = README.read_text(encoding="utf-8")
    said = re.search(r"Of its (\d+) steps it stores (\d+) events, and the rulebook refuses (\d+)", text)
    assert said is not None
    assert [int(n) for n in said.groups()] == [len(steps), len(steps) - refused, refused]
    walk = "\n".join(s.command for b in _section(README, "## The auditor's walk-through") for s in b.steps)
    assert f"--size {len(steps) - refused} " in walk and f"--from {len(steps) - refused} " in walk


def test_the_contracts_json_examples_are_what_the_ledger_reads_and_answers(tmp_path: Path) -> None:
    """docs/contract.md's event example is a valid event, and its ``por`` and ``delegations``
    answers name keys the commands answer with (after the demo)."""
    from ledger import parse_event_json

    examples = re.findall(r"```json\n(.*?)```", (ROOT / "docs" / "contract.md").read_text(), re.S)
    shapes = [orjson.loads(text) for text in examples]
    event = next(s for s in shapes if "type" in s)
    assert parse_event_json(orjson.dumps(event)).type == event["type"]
    run = [*ledger_command(), "--db", f"sqlite:///{tmp_path / 'demo.db'}"]
    subprocess.run([*run, "demo"], check=True, capture_output=True)
    por = orjson.loads(subprocess.check_output([*run, "por", "azure-csp-1", "--json"]))
    delegations = orjson.loads(
        subprocess.check_output([*run, "delegations", "contoso", "--as-of", "2019-06-30", "--json"])
    )
    example_por = next(s for s in shapes if "partner_of_record" in s)
    example_delegations = next(s for s in shapes if "delegations" in s)
    assert set(example_por) <= set(por)
    assert set(example_delegations) <= set(delegations)
    assert set(example_delegations["delegations"][0]) <= set(delegations["delegations"][0])


def _options(command: object) -> set[str]:
    params = getattr(command, "params", [])
    return {name for p in params for name in (*p.opts, *p.secondary_opts) if name.startswith("-")} | {
        "--help",
        "-h",
    }


def test_the_commands_and_options_the_pages_name_in_passing_exist() -> None:
    """Every ``ledger …`` the pages name in running text (not only in the console examples,
    which run) names a command ``ledger`` has, or one the contract marks as not built yet, and
    only options that command takes (``TYPE --field`` is the contract's placeholder)."""
    whole = typer.main.get_command(app)
    assert isinstance(whole, TyperGroup)
    contract = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
    not_built = set(re.findall(r"^\| `ledger (\S+?)[ `].*not built yet", contract, re.M))
    record = whole.commands["record"]
    assert isinstance(record, TyperGroup)
    spans = [
        span for page in PAGES for span in re.findall(r"`(ledger [^`]*)`", page.read_text(encoding="utf-8"))
    ]
    assert len(spans) > 30
    for span in spans:
        words = re.sub(r"--(db|wait) \S+", "", span).split()[1:]
        named = [w for w in words if re.fullmatch(r"[a-z][a-z.-]*", w)]
        options = set(re.findall(r"(?<![\w-])--?[a-z][a-z-]*", span))
        allowed = _options(whole)
        if named and not named[0].startswith("-"):
            if named[0] in not_built:
                continue
            assert named[0] in whole.commands, f"{span}: ledger has no command {named[0]}"
            command = whole.commands[named[0]]
            allowed |= _options(command)
            if named[0] == "record":
                types = [w for w in words[1:2] if w in record.commands]
                for type_name in types or list(record.commands):
                    allowed |= _options(record.commands[type_name])
                if "TYPE" in words:
                    allowed.add("--field")
        assert options <= allowed, f"{span}: {sorted(options - allowed)} not among its options"
