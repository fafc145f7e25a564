"""The read side: folds of stored events into temporal, indexed tables, and their queries.

``apply`` folds one stored event (live, inside the appending transaction, and in a
rebuild); ``StateView`` reads the state of things as of an effective time.
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
from ._tables import TABLES, Db, schema_statements
from ._view import StateView

__all__ = [
    "TABLES",
    "CustomerState",
    "Db",
    "DelegationState",
    "PartnerState",
    "RelationshipState",
    "RequestState",
    "StateView",
    "SubscriptionState",
    "apply",
    "schema_statements",
]
