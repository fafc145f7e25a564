"""Every source's mapping, by the source's name: what ``ledger ingest SOURCE`` calls.

Each mapping is pure (records and the context in, proposals and skips out, never the store)
and yields at least one outcome per record; ``docs/sources.md`` is the table of what each
operation type or status becomes.
"""

from __future__ import annotations

from collections.abc import Mapping

from ._graph_gdap import map_graph_gdap
from ._model import Mapper

MAPPERS: Mapping[str, Mapper] = {
    "graph-gdap": map_graph_gdap,
}
