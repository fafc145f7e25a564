"""The store: positions, the chain, idempotency, all-or-nothing batches, append-only tables."""

from __future__ import annotations

import pytest
from builders import customer, partner, purchase

from ledger import Ledger


def test_positions_are_gap_free_from_one(ledger: Ledger) -> None:
    receipts = [ledger.record(e) for e in (partner("fabrikam"), customer("contoso"), purchase("sub-1", "contoso"))]
    assert [r.position for r in receipts] == [1, 2, 3]
    assert [e["position"] for e in ledger.stored()] == [1, 2, 3]
    assert ledger.verify_chain() == 3
