"""The read side: folds of stored events into temporal, indexed tables, and their queries.

``apply`` folds one stored event through a ``Session`` (the unit of work of one
transaction: live appends, imports, rebuilds); ``StateView`` reads the state of things as
of an effective time.
"""

from ._fold import apply
from ._model import (
    CustomerState,
    DelegationState,
    PartnerState,
    RelationshipState,
    RequestState,
    SubscriptionState,
)
from ._queries import customer, customer_state, delegations, history_positions, partner_of_record
from ._rebuild import create_twins, drop_twins, first_difference, replace_with_twins
from ._session import Session
from ._tables import TABLES, Db, schema_statements
from ._time import format_us
from ._timeline import (
    DelegationLine,
    PartnerInfo,
    PorPeriod,
    RelationshipLine,
    SubscriptionLine,
    Timeline,
    timeline,
)
from ._view import StateView

__all__ = [
    "TABLES",
    "CustomerState",
    "Db",
    "DelegationLine",
    "DelegationState",
    "PartnerInfo",
    "PartnerState",
    "PorPeriod",
    "RelationshipLine",
    "RelationshipState",
    "RequestState",
    "Session",
    "StateView",
    "SubscriptionLine",
    "SubscriptionState",
    "Timeline",
    "apply",
    "create_twins",
    "customer",
    "customer_state",
    "delegations",
    "drop_twins",
    "first_difference",
    "format_us",
    "history_positions",
    "partner_of_record",
    "replace_with_twins",
    "schema_statements",
    "timeline",
]
