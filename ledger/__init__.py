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
    from . import _keys as keys
    from . import _narration as narration
    from . import _read as read
    from . import _verifier as verifier
    from ._append import Receipt
    from ._chain import GENESIS, chain_hash, parse_digest
    from ._events import EVENT_TYPES, ROLES, Actor, Event, EventType, Field
    from ._files import check_output, output_file, store_files, write_output, writing
    from ._ingest._engine import IngestResult, ingest
    from ._ingest._model import SOURCES as INGEST_SOURCES
    from ._ingest._model import Context as IngestContext
    from ._json import load_json
    from ._lines import event_lines, read_event, spooled
    from ._parse import parse_event, parse_event_json
    from ._rules import DAP_RETIRED_ON, RULE_IDS, RULEBOOK, Rule, is_global_admin, rules_json
    from ._sql import CHAIN
    from ._sqlite import BULK_CACHE
    from ._store import Ledger
    from ._time import now, parse_query_time, parse_time
    from ._url import DEFAULT_URL, redact
    from ._wait import DEFAULT_WAIT, MAX_WAIT

# Where each name loaded on first use lives; "" for a module itself (``read``, ``narration``).
_MODULES = {
    "read": ("_read", ""),
    "narration": ("_narration", ""),
    "keys": ("_keys", ""),
    "verifier": ("_verifier", ""),
    "GENESIS": ("_chain", "GENESIS"),
    "chain_hash": ("_chain", "chain_hash"),
    "EVENT_TYPES": ("_events", "EVENT_TYPES"),
    "Actor": ("_events", "Actor"),
    "Event": ("_events", "Event"),
    "EventType": ("_events", "EventType"),
    "Field": ("_events", "Field"),
    "parse_event": ("_parse", "parse_event"),
    "parse_event_json": ("_parse", "parse_event_json"),
    "DAP_RETIRED_ON": ("_rules", "DAP_RETIRED_ON"),
    "RULE_IDS": ("_rules", "RULE_IDS"),
    "RULEBOOK": ("_rules", "RULEBOOK"),
    "Rule": ("_rules", "Rule"),
    "rules_json": ("_rules", "rules_json"),
    "is_global_admin": ("_rules", "is_global_admin"),
    "DEFAULT_URL": ("_url", "DEFAULT_URL"),
    "Ledger": ("_store", "Ledger"),
    "Receipt": ("_append", "Receipt"),
    # ``ledger ingest`` (issue 15): the engine, its context and answer, the sources it reads.
    "INGEST_SOURCES": ("_ingest._model", "SOURCES"),
    "IngestContext": ("_ingest._model", "Context"),
    "IngestResult": ("_ingest._engine", "IngestResult"),
    "ingest": ("_ingest._engine", "ingest"),
    # Used by the other packages (cli, bench): the package's insides stay private to it.
    "BULK_CACHE": ("_sqlite", "BULK_CACHE"),
    "CHAIN": ("_sql", "CHAIN"),
    "DEFAULT_WAIT": ("_wait", "DEFAULT_WAIT"),
    "MAX_WAIT": ("_wait", "MAX_WAIT"),
    "ROLES": ("_events", "ROLES"),
    "check_output": ("_files", "check_output"),
    "event_lines": ("_lines", "event_lines"),
    "load_json": ("_json", "load_json"),
    "now": ("_time", "now"),
    "output_file": ("_files", "output_file"),
    "parse_digest": ("_chain", "parse_digest"),
    "parse_query_time": ("_time", "parse_query_time"),
    "parse_time": ("_time", "parse_time"),
    "read_event": ("_lines", "read_event"),
    "redact": ("_url", "redact"),
    "spooled": ("_lines", "spooled"),
    "store_files": ("_files", "store_files"),
    "write_output": ("_files", "write_output"),
    "writing": ("_files", "writing"),
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
    "BULK_CACHE",
    "CHAIN",
    "DAP_RETIRED_ON",
    "DEFAULT_URL",
    "DEFAULT_WAIT",
    "EVENT_TYPES",
    "GENESIS",
    "INGEST_SOURCES",
    "MAX_WAIT",
    "ROLES",
    "RULEBOOK",
    "RULE_IDS",
    "Actor",
    "BadInput",
    "Event",
    "EventType",
    "Field",
    "IngestContext",
    "IngestResult",
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
    "check_output",
    "event_lines",
    "ingest",
    "is_global_admin",
    "keys",
    "load_json",
    "narration",
    "now",
    "output_file",
    "parse_digest",
    "parse_event",
    "parse_event_json",
    "parse_query_time",
    "parse_time",
    "read",
    "read_event",
    "redact",
    "rules_json",
    "spooled",
    "store_files",
    "verifier",
    "write_output",
    "writing",
]
