"""Every source's mapping, by the source's name: what ``ledger ingest SOURCE`` calls.

Each mapping is pure (records and the context in, proposals and skips out, never the store)
and yields at least one outcome per record; ``docs/sources.md`` is the table of what each
operation type or status becomes.
"""

from __future__ import annotations

from collections.abc import Mapping

from ._graph_gdap import map_graph_gdap
from ._model import Mapper
from ._pc_audit import map_pc_audit
from ._pc_customers import map_pc_customers
from ._pc_resellers import map_pc_resellers, reseller_map
from ._pc_subscriptions import map_pc_subscriptions
from ._pc_transfers import map_pc_transfers

MAPPERS: Mapping[str, Mapper] = {
    "graph-gdap": map_graph_gdap,
    "pc-audit": map_pc_audit,
    "pc-customers": map_pc_customers,
    "pc-subscriptions": map_pc_subscriptions,
    "pc-transfers": map_pc_transfers,
    "pc-resellers": map_pc_resellers,
}

__all__ = ["MAPPERS", "reseller_map"]
