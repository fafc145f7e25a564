"""Partner colours: up to twelve partners in one report never share one, and a partner keeps
its own colour (fixed by a hash of its id) from report to report unless another partner of the
same report has it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

# Twelve colours, each at least 3:1 against the page's white and the lanes' grey (WCAG's
# contrast for graphics) and well apart from one another (CIE76 distance over 20), so bars and
# swatches stay apart on screen and on paper. Grey is kept for subscriptions with no CSP
# partner of record.
PALETTE = (
    "#0077bb",
    "#c62828",
    "#228833",
    "#b35806",
    "#4a148c",
    "#009988",
    "#ee3377",
    "#7a6a00",
    "#004488",
    "#882255",
    "#006064",
    "#5d4037",
)
NO_PARTNER = "#a9aeb4"


def partner_colours(partner_ids: Iterable[str]) -> dict[str, str]:
    """Each partner's colour in one report: its own where no other partner has taken it, else
    the next free one (partners taken in id order, so the same partners get the same colours);
    past twelve partners, colours repeat."""
    taken: set[int] = set()
    out: dict[str, str] = {}
    for partner_id in sorted(set(partner_ids)):
        slot = _slot(partner_id)
        if len(taken) < len(PALETTE):
            while slot in taken:
                slot = (slot + 1) % len(PALETTE)
        taken.add(slot)
        out[partner_id] = PALETTE[slot]
    return out


def _slot(partner_id: str) -> int:
    digest = hashlib.sha256(partner_id.encode()).digest()
    return int.from_bytes(digest[:4], "big") % len(PALETTE)
