"""The events table: every event of the customer, in position order, with who recorded it,
its sentence in plain language, its note and hash; from a failed verification's position on,
marked bad."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ledger import narration

from ._names import TimelineNames


def event_rows(
    events: Sequence[Mapping[str, Any]], names: TimelineNames, bad_from: int | None
) -> list[dict[str, Any]]:
    """The table's rows; ``bad_from``: where a failed verification found the log bad."""
    return [_row(e, names, bad_from) for e in events]


def _row(e: Mapping[str, Any], names: TimelineNames, bad_from: int | None) -> dict[str, Any]:
    return {
        "position": e["position"],
        "effective_at": e["effective_at"],
        "recorded_at": e["recorded_at"],
        "actor": e["actor"]["id"],
        "role": e["actor"]["role"],
        "tenant": e["actor"]["tenant_id"],
        "type": e["type"],
        "sentence": narration.sentence(e, names),
        "note": e.get("note"),
        "hash": e["hash"],
        "bad": bad_from is not None and e["position"] >= bad_from,
    }
