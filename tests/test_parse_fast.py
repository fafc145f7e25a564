"""The fast path of ``parse_event`` (issue 18) answers exactly what the full path answers.

``parse_event`` takes ``_fast`` for an event already in its normal form and the full path
(``_parse_slowly``) for anything else. Here every event of a generated history, each with
one value replaced by a value of another kind or spelling (a time with an offset, a
fraction of zeros or a lower-case ``z``, an upper-case UUID, a control character, a list
with a repeat, null, a number...), must give the same ``Event`` by both, or the same bad
input: the same message naming the same fields.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.generate import History
from ledger import BadInput, Event
from ledger._parse import _fast, _parse_slowly, parse_event

SAMPLE = list(History(400, seed=18).events())

# Values that are in their normal form, nearly so, or wrong in one way each.
ODD_VALUES: list[Any] = [
    None,
    0,
    1.5,
    True,
    "",
    " ",
    "x" * 129,
    "x" * 1025,
    "ok-id",
    "bad id",
    "tab\there",
    "line\nbreak",
    "nul\x00",
    "\ud800",
    "\u2028",
    "é",
    [],
    ["a", "a"],
    ["a", "b"],
    ["a", 1],
    ["x"] * 65,
    {},
    {"id": "x"},
    "2019-03-01T09:00:00Z",
    "2019-03-01T09:00:00z",
    "2019-03-01t09:00:00Z",
    "2019-03-01T09:00:00.000000Z",
    "2019-03-01T09:00:00.000100Z",
    "2019-03-01T09:00:00.1Z",
    "2019-03-01T10:00:00+01:00",
    "2019-02-30T09:00:00Z",
    "1899-12-31T23:59:59Z",
    "9000-01-01T00:00:00Z",
    "0999-01-01T00:00:00Z",
    "7F1C6A52-0F5E-4D0E-9D43-3C7A1F0B9E21",
    "7f1c6a52-0f5e-4d0e-9d43-3c7a1f0b9e21",
    "{7f1c6a52-0f5e-4d0e-9d43-3c7a1f0b9e21}",
    "csp",
    "gdap",
    "global-admin",
    "microsoft",
    "license",
    "P730D",
    "P3Y",
    "P180D",
]


def _answer(obj: Any, parse: Any) -> Event | str:
    """The event, without its id where the input has none (a new UUID each time), or the
    bad input's message and fields."""
    try:
        event = parse(obj)
    except BadInput as error:
        return f"{error.message} {[p.field for p in error.problems]}"
    has_id = isinstance(obj, dict) and obj.get("event_id") is not None
    return event if has_id else Event("", event.type, event.effective_at, event.actor, event.data, event.note)


def _paths(obj: dict[str, Any]) -> list[tuple[str, ...]]:
    """Every place of an event a value may be put: each key at each level, and a new key."""
    out: list[tuple[str, ...]] = [(key,) for key in obj] + [("note",), ("position",), ("extra",)]
    for section in ("actor", "data"):
        if isinstance(obj.get(section), dict):
            out += [(section, key) for key in obj[section]] + [(section, "extra")]
    return out


def test_every_generated_event_takes_the_fast_path_to_the_same_event() -> None:
    """A well-formed history (what an import mostly reads) is parsed by the fast path, into
    the very event the full path makes."""
    for obj in SAMPLE:
        fast = _fast(obj)
        assert fast is not None, obj
        slow = _parse_slowly(obj)
        assert fast == slow
        assert fast.effective_us == slow.effective_us


# One event of each type in the sample, with the most fields.
ONE_OF_EACH = {
    obj["type"]: obj for obj in sorted(SAMPLE, key=lambda o: len(o["data"]) + len(o.get("note", "")))
}


@pytest.mark.parametrize("type_name", sorted(ONE_OF_EACH))
def test_an_event_with_one_value_changed_is_answered_as_the_full_path_answers(type_name: str) -> None:
    """Every place of the event, every odd value (or the key removed)."""
    for path in _paths(ONE_OF_EACH[type_name]):
        for value in [*ODD_VALUES, "delete"]:
            obj = copy.deepcopy(ONE_OF_EACH[type_name])
            holder = obj if len(path) == 1 else obj[path[0]]
            if value == "delete":
                holder.pop(path[-1], None)
            else:
                holder[path[-1]] = copy.deepcopy(value)
            assert _answer(obj, parse_event) == _answer(obj, _parse_slowly), (path, value)


@settings(max_examples=200, deadline=None)
@given(
    index=st.integers(0, len(SAMPLE) - 1),
    changes=st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from([*ODD_VALUES, "delete"])), max_size=3),
)
def test_an_event_with_values_changed_is_answered_as_the_full_path_answers(
    index: int, changes: list[tuple[int, Any]]
) -> None:
    obj = copy.deepcopy(SAMPLE[index])
    for choice, value in changes:
        paths = _paths(obj)
        path = paths[choice % len(paths)]
        holder = obj if len(path) == 1 or not isinstance(obj.get(path[0]), dict) else obj[path[0]]
        if value == "delete":
            holder.pop(path[-1], None)
        else:
            holder[path[-1]] = copy.deepcopy(value)
    assert _answer(obj, parse_event) == _answer(obj, _parse_slowly)


@pytest.mark.parametrize("obj", [None, [], "event", 1, {"type": "partner.registered"}])
def test_what_is_not_an_event_is_left_to_the_full_path(obj: Any) -> None:
    assert _fast(obj) is None
    with pytest.raises(BadInput):
        parse_event(obj)
