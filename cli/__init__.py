"""The ``ledger`` command line: a thin door onto ``ledger`` and ``projections``."""

from typing import TYPE_CHECKING

from .app import main

# Importing ``cli.app`` bound that module here as ``app``; ``cli.app`` is the command, as it
# has always been, completed on first use (``__getattr__``).
del globals()["app"]

if TYPE_CHECKING:
    from .app import app


def __getattr__(name: str) -> object:
    """``app``, the whole command, is completed on first use (see ``cli.app``)."""
    if name == "app":
        from .app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["app", "main"]
