"""The relationship ledger's write side: event types, the rulebook, the store.

A small public surface; everything else is private modules behind it. The errors are
loaded with the package; every other name from its module on first use (PEP 562), so a
question (``ledger por``) never loads the store, eventsourcing, the event types or the
rulebook, which count in the start of every ``ledger`` process.
"""

from importlib import import_module
from typing import TYPE_CHECKING

from ._errors import (
    BadInput,
    IntegrityFailure,
    LedgerError,
    LedgerWarning,
    NotFound,
    RuleViolation,
    StoreError,
)

if TYPE_CHECKING:
    from . import _narration as narration
    from . import _read as read
    from ._append import Receipt
    from ._chain import GENESIS, chain_hash
    from ._events import EVENT_TYPES, Actor, Event, EventType, Field
    from ._parse import parse_event, parse_event_json
    from ._rules import RULE_IDS, RULEBOOK, Rule
    from ._store import Ledger
    from ._url import DEFAULT_URL

# Where each name loaded on first use lives; "" for a module itself (``read``, ``narration``).
_MODULES = {
    "read": ("_read", ""),
    "narration": ("_narration", ""),
    "GENESIS": ("_chain", "GENESIS"),
    "chain_hash": ("_chain", "chain_hash"),
    "EVENT_TYPES": ("_events", "EVENT_TYPES"),
    "Actor": ("_events", "Actor"),
    "Event": ("_events", "Event"),
    "EventType": ("_events", "EventType"),
    "Field": ("_events", "Field"),
    "parse_event": ("_parse", "parse_event"),
    "parse_event_json": ("_parse", "parse_event_json"),
    "RULE_IDS": ("_rules", "RULE_IDS"),
    "RULEBOOK": ("_rules", "RULEBOOK"),
    "Rule": ("_rules", "Rule"),
    "DEFAULT_URL": ("_url", "DEFAULT_URL"),
    "Ledger": ("_store", "Ledger"),
    "Receipt": ("_append", "Receipt"),
}


def __getattr__(name: str) -> object:
    """A public name, imported from its module on first use (then a plain attribute)."""
    where = _MODULES.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = where
    value = import_module(f"{__name__}.{module}")
    value = getattr(value, attribute) if attribute else value
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULES})


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
    "LedgerWarning",
    "NotFound",
    "Receipt",
    "Rule",
    "RuleViolation",
    "StoreError",
    "chain_hash",
    "narration",
    "parse_event",
    "parse_event_json",
    "read",
]
