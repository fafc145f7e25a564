"""``ledger ingest``: what partners already hold (Partner Center and Graph JSON) as events.

See ``_model.py`` for how the reader, the mappings and the engine fit together, and
``docs/sources.md`` for what each source record becomes.
"""

from ._model import (
    MPN_IN_NOTE,
    NAMESPACE,
    SOURCES,
    Context,
    Mapper,
    Proposal,
    Record,
    Skip,
    event_id,
    mpn_note,
)

__all__ = [
    "MPN_IN_NOTE",
    "NAMESPACE",
    "SOURCES",
    "Context",
    "Mapper",
    "Proposal",
    "Record",
    "Skip",
    "event_id",
    "mpn_note",
]
