"""The read side: folds of stored events into temporal, indexed tables, and their queries.

``apply`` folds one stored event through a ``Session`` (the unit of work of one
transaction: live appends, imports, rebuilds); ``StateView`` reads the state of things as
of an effective time.

Every name is loaded from its module on first use (PEP 562): a question (``ledger por``)
loads the queries and the tables alone, not the fold, the session or the timeline, which
count in the start of every ``ledger`` process.
"""

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._fold import GDAP_REQUEST_LAPSES_US, apply
    from ._lists import EventNames, customers, partners, subscriptions
    from ._model import (
        CustomerState,
        DelegationState,
        GdapRequestState,
        PartnerState,
        RelationshipState,
        RequestState,
        SubscriptionState,
    )
    from ._queries import (
        EVERY_POSITION,
        customer,
        customer_state,
        delegations,
        history_positions,
        partner_of_record,
        por_answer,
        por_statement,
    )
    from ._rebuild import create_twins, drop_twins, first_difference, replace_with_twins
    from ._session import Session
    from ._tables import EVENT_REFS, EVENT_REFS_KEY, TABLES, Db, schema_statements
    from ._time import DAY_US, canonical_time, canonical_to_us, format_time, format_us, from_us, to_us
    from ._timeline import (
        DelegationLine,
        GdapRequestLine,
        PartnerInfo,
        PorPeriod,
        ProgramChange,
        RelationshipLine,
        SubscriptionLine,
        Timeline,
        timeline,
    )
    from ._view import StateView

# Where each public name lives.
_MODULES = {
    "apply": "_fold",
    "EventNames": "_lists",
    "customers": "_lists",
    "partners": "_lists",
    "subscriptions": "_lists",
    "CustomerState": "_model",
    "GdapRequestState": "_model",
    "DelegationState": "_model",
    "PartnerState": "_model",
    "RelationshipState": "_model",
    "RequestState": "_model",
    "SubscriptionState": "_model",
    "customer": "_queries",
    "customer_state": "_queries",
    "delegations": "_queries",
    "history_positions": "_queries",
    "partner_of_record": "_queries",
    "create_twins": "_rebuild",
    "drop_twins": "_rebuild",
    "first_difference": "_rebuild",
    "replace_with_twins": "_rebuild",
    "Session": "_session",
    "TABLES": "_tables",
    "Db": "_tables",
    "schema_statements": "_tables",
    "format_us": "_time",
    "DelegationLine": "_timeline",
    "GdapRequestLine": "_timeline",
    "PartnerInfo": "_timeline",
    "PorPeriod": "_timeline",
    "ProgramChange": "_timeline",
    "RelationshipLine": "_timeline",
    "SubscriptionLine": "_timeline",
    "Timeline": "_timeline",
    "timeline": "_timeline",
    "StateView": "_view",
    # Used by the write side (ledger) and the command (cli): the insides stay private.
    "DAY_US": "_time",
    "GDAP_REQUEST_LAPSES_US": "_fold",
    "EVENT_REFS": "_tables",
    "EVENT_REFS_KEY": "_tables",
    "EVERY_POSITION": "_queries",
    "canonical_time": "_time",
    "canonical_to_us": "_time",
    "format_time": "_time",
    "from_us": "_time",
    "por_answer": "_queries",
    "por_statement": "_queries",
    "to_us": "_time",
}


def __getattr__(name: str) -> object:
    """A public name, imported from its module on first use (then a plain attribute)."""
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULES})


__all__ = [
    "DAY_US",
    "EVENT_REFS",
    "EVENT_REFS_KEY",
    "EVERY_POSITION",
    "GDAP_REQUEST_LAPSES_US",
    "TABLES",
    "CustomerState",
    "Db",
    "DelegationLine",
    "DelegationState",
    "EventNames",
    "GdapRequestLine",
    "GdapRequestState",
    "PartnerInfo",
    "PartnerState",
    "PorPeriod",
    "ProgramChange",
    "RelationshipLine",
    "RelationshipState",
    "RequestState",
    "Session",
    "StateView",
    "SubscriptionLine",
    "SubscriptionState",
    "Timeline",
    "apply",
    "canonical_time",
    "canonical_to_us",
    "create_twins",
    "customer",
    "customer_state",
    "customers",
    "delegations",
    "drop_twins",
    "first_difference",
    "format_time",
    "format_us",
    "from_us",
    "history_positions",
    "partner_of_record",
    "partners",
    "por_answer",
    "por_statement",
    "replace_with_twins",
    "schema_statements",
    "subscriptions",
    "timeline",
    "to_us",
]
