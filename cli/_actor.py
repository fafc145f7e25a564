"""Who records: the actor of ``ledger record TYPE``, each field from the first of

1. its option (``--actor-id``, ``--actor-role``, ``--actor-tenant-id``);
2. the environment (``LEDGER_ACTOR_ID``, ``LEDGER_ACTOR_ROLE``, ``LEDGER_ACTOR_TENANT_ID``);
3. ``ledger.toml`` beside the SQLite database file;
4. ``ledger.toml`` in the user's config folder (``$XDG_CONFIG_HOME/ledger``, else
   ``~/.config/ledger``; ``~/Library/Application Support/ledger`` on macOS;
   ``%APPDATA%\\ledger`` on Windows),

where a ``ledger.toml`` holds ``[actor]`` with ``id``, ``role`` and ``tenant_id`` (any of them).
Each field remembers where it came from, so an error names that place (an option, a
variable, a file and key), not a field the user never typed.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ledger import BadInput, store_files

CONFIG_NAME = "ledger.toml"
FIELDS = ("id", "role", "tenant_id")
PRECEDENCE = (
    "The actor (--actor-id, --actor-role, --actor-tenant-id) may be left out: each is taken from "
    "its option, else the environment (LEDGER_ACTOR_ID, LEDGER_ACTOR_ROLE, LEDGER_ACTOR_TENANT_ID), "
    "else ledger.toml beside the SQLite database file, else ledger.toml in your config folder "
    "(~/.config/ledger or $XDG_CONFIG_HOME/ledger; ~/Library/Application Support/ledger on macOS; "
    "%APPDATA%\\ledger on Windows), whose \\[actor] table holds id, role and tenant_id."
)  # help text is rich markup: "\\[" is a bracket


def option_name(field: str) -> str:
    return f"--actor-{field.replace('_', '-')}"


def env_name(field: str) -> str:
    return f"LEDGER_ACTOR_{field.upper()}"


@dataclass(frozen=True)
class Given:
    """One field of the actor, and where it was given (the name an error gives it)."""

    value: str
    source: str


def user_config_folder() -> Path | None:
    """The user's config folder for the ledger, by the platform's convention."""
    if sys.platform == "win32":
        appdata = os.environ.get("APPDATA")
        return Path(appdata) / "ledger" if appdata else None
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "ledger"
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".config"
    return base / "ledger"


def config_files(db: str | None) -> list[Path]:
    """Where a ``ledger.toml`` is looked for, first first: beside the SQLite database file of
    ``db`` (none for PostgreSQL), then in the user's config folder."""
    files = []
    database = store_files(db)
    if database:
        files.append(Path(database[0]).absolute().parent / CONFIG_NAME)
    folder = user_config_folder()
    if folder is not None:
        files.append(folder / CONFIG_NAME)
    return files


def read_config(path: Path) -> dict[str, Given]:
    """The actor fields ``path`` gives (none: no such file); bad input naming the file and
    the key at fault."""
    import tomllib

    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise BadInput(str(path), f"cannot be read: {exc.strerror}") from None
    try:
        document = tomllib.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BadInput(str(path), f"is not valid TOML: {exc}") from None
    for key in document:
        if key != "actor":
            raise BadInput(str(path), f"has the key {key!r}, which the ledger does not know (known: actor)")
    table = document.get("actor", {})
    if not isinstance(table, dict):
        raise BadInput(str(path), "has actor, which must be a table: [actor] with id, role and tenant_id")
    found = {}
    for key, value in table.items():
        if key not in FIELDS:
            raise BadInput(
                str(path),
                f"has the key actor.{key}, which the ledger does not know (known: actor.id, "
                "actor.role, actor.tenant_id)",
            )
        if not isinstance(value, str):
            raise BadInput(str(path), f"has actor.{key}, which must be a string")
        found[key] = Given(value, f"actor.{key} in {path}")
    return found


def actor(db: str | None, options: dict[str, str | None]) -> dict[str, Given]:
    """The actor's fields, each from the first place that gives it (see the module); every
    config file is read (a bad one is an error even where an option overrides it)."""
    configs = [read_config(path) for path in config_files(db)]
    chosen: dict[str, Given] = {}
    for field in FIELDS:
        option, variable = options.get(field), os.environ.get(env_name(field))
        if option is not None:
            chosen[field] = Given(option, option_name(field))
        elif variable:
            chosen[field] = Given(variable, env_name(field))
        else:
            given = next((config[field] for config in configs if field in config), None)
            if given is not None:
                chosen[field] = given
    return chosen
