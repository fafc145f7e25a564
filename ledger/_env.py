"""The eventsourcing library's environment for a store: the application and its settings."""

from __future__ import annotations

from typing import Any

from eventsourcing.application import Application

from ._backend import environment
from ._url import store_url
from ._wait import DEFAULT_WAIT


class LedgerApplication(Application[Any]):
    """eventsourcing's application, configured for the ledger's recorders."""

    name = "RelationshipLedger"


def store_env(url: str, wait: int = DEFAULT_WAIT) -> dict[str, str]:
    """The eventsourcing environment for a ``sqlite:///…`` or ``postgresql://…`` URL; a
    writer waits up to ``wait`` seconds for another's lock (see ``_wait``)."""
    return environment(store_url(url), wait)
