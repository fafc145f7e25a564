"""``ledger rules``: the rulebook, every rule with its editions (id, edition, period, clouds,
what it says, source): a table for people, ``--json`` for scripts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import typer

from ledger import rules_json

from ._options import JsonOption
from ._output import emit_json, out, reporting
from ._views import show_rules


def register(app: typer.Typer) -> None:
    @app.command()
    def rules(as_json: JsonOption = False) -> None:
        """Every rule of the rulebook with its editions: when and in which clouds each is in force.

        An event is judged by the editions in force at its effective time in its customer's
        cloud; a refusal names the rule and the edition. --json prints
        {"rules": [{"id", "summary", "editions": [{"name", "since", "until", "clouds", "says",
        "source"}]}]}, since and until as days (null: unbounded).

        Example:

            ledger rules --json
        """
        with reporting(as_json):
            answer: Mapping[str, Any] = rules_json()
            if as_json:
                emit_json(answer)
            else:
                show_rules(answer)
                out.print(f"{len(answer['rules'])} rules.")
