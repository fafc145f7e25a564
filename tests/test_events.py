"""Every event type has every part: one definition (``ledger/_events.py``) with its fields,
eligible roles, customer and references, and an entry in each table keyed by its name.

A new part is one more entry in ``PARTS`` (and a new table keyed by type names one more in
``TABLES``); each type is then checked for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, get_args

import pytest

from ledger import EVENT_TYPES, EventType
from ledger._events import ROLES, Kind, Must, Thing
from ledger._facts import _REF_CHECKS
from ledger._narration import SENTENCES
from projections._fold import FOLDS

# The tables keyed by event type names, besides the definitions themselves.
TABLES: dict[str, Mapping[str, Any]] = {"fold": FOLDS, "narration": SENTENCES}

# Things an event's customer is found through: the customer itself, or what it owns.
OWNED = {"customer", "subscription", "request", "delegation"}


def has_fields(t: EventType) -> None:
    names = [f.name for f in t.fields]
    assert names and len(set(names)) == len(names)
    for f in t.fields:
        assert f.kind in get_args(Kind) and f.help
        assert bool(f.choices) == (f.kind == "choice"), f.name


def has_roles(t: EventType) -> None:
    assert t.roles and t.roles <= set(ROLES)


def has_customer(t: EventType) -> None:
    """A partner event has none; any other names its customer, or a thing it owns."""
    if t.customer is None:
        assert t.customer_ref() is None
        return
    ref = t.customer_ref()
    assert ref is not None and ref.thing in OWNED, t.customer


def has_references(t: EventType) -> None:
    """Something to refer to, each reference through an id field, each one checkable."""
    kinds = {f.name: f.kind for f in t.fields}
    assert t.refs
    for ref in t.refs:
        assert kinds.get(ref.field) in ("id", "ids"), ref
        assert ref.thing in get_args(Thing) and ref.must in get_args(Must)
        assert (ref.thing, ref.must) in _REF_CHECKS, ref


def in_table(name: str) -> Callable[[EventType], None]:
    def check(t: EventType) -> None:
        assert t.name in TABLES[name], f"{t.name} has no entry in the {name} table"

    return check


PARTS: dict[str, Callable[[EventType], None]] = {
    "fields": has_fields,
    "eligible roles": has_roles,
    "customer": has_customer,
    "references": has_references,
    **{name: in_table(name) for name in TABLES},
}


@pytest.mark.parametrize("part", PARTS)
@pytest.mark.parametrize("type_name", sorted(EVENT_TYPES))
def test_every_event_type_has_every_part(type_name: str, part: str) -> None:
    PARTS[part](EVENT_TYPES[type_name])


@pytest.mark.parametrize("table", TABLES)
def test_a_table_keyed_by_type_names_names_only_event_types(table: str) -> None:
    assert set(TABLES[table]) == set(EVENT_TYPES)


def test_each_definition_is_filed_under_its_own_name() -> None:
    assert all(name == t.name for name, t in EVENT_TYPES.items())
