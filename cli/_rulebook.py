"""``ledger rules``: the rulebook, every rule with its editions (id, edition, period, clouds,
what it says, source): a table for people, ``--json`` for scripts, ``--markdown`` for the
documentation (docs/rulebook.md is that output, so the page cannot drift from the code)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Annotated, Any

import typer

from ledger import BadInput, rules_json

from ._options import JsonOption
from ._output import emit_json, out, reporting
from ._views import rules_markdown, show_rules

MarkdownOption = Annotated[
    bool,
    typer.Option(
        "--markdown",
        help="Print the rulebook as Markdown: a section per rule, a table of its editions "
        "(docs/rulebook.md is this output).",
    ),
]


def register(app: typer.Typer) -> None:
    @app.command()
    def rules(as_json: JsonOption = False, markdown: MarkdownOption = False) -> None:
        """Every rule of the rulebook with its editions: when and in which clouds each is in force.

        An event is judged by the editions in force at its effective time in its customer's
        cloud; a refusal names the rule and the edition. --json prints
        {"rules": [{"id", "summary", "editions": [{"name", "since", "until", "clouds", "says",
        "source"}]}]}, since and until as days (null: unbounded).

        Examples:

            ledger rules --json

            ledger rules --markdown
        """
        with reporting(as_json):
            if as_json and markdown:
                raise BadInput("--markdown", "cannot be given with --json: choose one")
            answer: Mapping[str, Any] = rules_json()
            if markdown:
                sys.stdout.write(rules_markdown(answer))
            elif as_json:
                emit_json(answer)
            else:
                show_rules(answer)
                out.print(f"{len(answer['rules'])} rules.")
