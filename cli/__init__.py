"""The ``ledger`` command line: a thin door onto ``ledger`` and ``projections``."""

from .app import app, main

__all__ = ["app", "main"]
