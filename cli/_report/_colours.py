"""Partner colours: a partner's is fixed by a hash of its id, the same in every report."""

from __future__ import annotations

import hashlib

# Twelve well separated colours; a partner's is fixed by a hash of its id. Grey is kept for
# subscriptions with no CSP partner of record.
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#17becf",
    "#bcbd22",
    "#7f3c8d",
)
NO_PARTNER = "#a9aeb4"


def partner_colour(partner_id: str) -> str:
    """The partner's colour: the same in every report."""
    digest = hashlib.sha256(partner_id.encode()).digest()
    return PALETTE[int.from_bytes(digest[:4], "big") % len(PALETTE)]
