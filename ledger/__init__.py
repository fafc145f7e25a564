"""The relationship ledger's write side: event types, the rulebook, the store.

A small public surface; everything else is private modules behind it.
"""

from typing import TYPE_CHECKING

from . import _read as read
from ._chain import GENESIS, chain_hash
from ._errors import BadInput, IntegrityFailure, LedgerError, NotFound, RuleViolation, StoreError
from ._events import EVENT_TYPES, Actor, Event, EventType, Field, parse_event, parse_event_json
from ._rules import RULE_IDS, RULEBOOK, Rule
from ._store import DEFAULT_URL, Ledger, Receipt

if TYPE_CHECKING:
    from . import _demo as demo


def __getattr__(name: str) -> object:
    """``ledger.demo`` is loaded on first use: only ``ledger demo`` and its tests need it."""
    if name == "demo":
        from . import _demo

        return _demo
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_URL",
    "EVENT_TYPES",
    "GENESIS",
    "RULEBOOK",
    "RULE_IDS",
    "Actor",
    "BadInput",
    "Event",
    "EventType",
    "Field",
    "IntegrityFailure",
    "Ledger",
    "LedgerError",
    "NotFound",
    "Receipt",
    "Rule",
    "RuleViolation",
    "StoreError",
    "chain_hash",
    "demo",
    "parse_event",
    "parse_event_json",
    "read",
]
