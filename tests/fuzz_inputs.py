"""Generated bad input for the ledger's front door, and the oracle that judges the answers.

``bad_inputs()`` is a hypothesis strategy of ``Case``: one contract event (every optional
field present) spoiled in one way: malformed or truncated JSON, a value that is not JSON
text at all, a wrong type at any path, an unknown key, a missing key, a huge string, odd
unicode, an out-of-range or malformed time, a bad choice, id, UUID or list, a cross-field
contradiction, deep nesting. Each case knows the field its error must name (None: any) and
whether it must fail (a few spoilings, like odd unicode in free text, may leave it valid).

``judge_library`` feeds a case to ``parse_event_json`` (what ``ledger record --event`` runs);
``judge_cli`` runs the ``ledger`` command's own entry point in this process, as ``record
--event -`` and as the middle line of an ``import`` file, against a real store, and checks
exit 2, the message naming the field (and the line), no traceback, no stored byte.

Run the long pass (the default suite runs a short one, ``tests/test_fuzz.py``)::

    .venv/bin/python tests/fuzz_inputs.py --inputs 100000 --cli-every 20
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import sys
import tempfile
import time
import traceback
import unicodedata
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from hypothesis import strategies as st

from ledger import EVENT_TYPES, BadInput, Ledger, parse_event_json

EVENT_ID = "7f1c6a52-0f5e-4d0e-9d43-3c7a1f0b9e21"
BASE_DATA: dict[str, dict[str, Any]] = {
    "partner.registered": {
        "partner_id": "litware",
        "name": "Litware",
        "cloud": "commercial",
        "program": "csp-indirect-reseller",
        "provider_ids": ["tailwind", "wingtip"],
    },
    "partner.program-changed": {
        "partner_id": "litware",
        "program": "csp-indirect-reseller",
        "provider_ids": ["tailwind"],
    },
    "customer.registered": {"customer_id": "contoso", "name": "Contoso", "cloud": "commercial"},
    "subscription.purchased": {
        "subscription_id": "sub-1",
        "customer_id": "contoso",
        "offer": "Office 365 E3",
        "service": "license",
        "channel": "csp",
        "seller_id": "tailwind",
        "reseller_id": "litware",
        "term_end": "2020-03-01T00:00:00Z",
        "migrated_from": "sub-0",
    },
    "relationship.requested": {
        "request_id": "r-1",
        "partner_id": "tailwind",
        "customer_id": "contoso",
        "reseller_id": "litware",
    },
    "relationship.accepted": {"request_id": "r-1"},
    "relationship.removed": {"partner_id": "tailwind", "customer_id": "contoso"},
    "delegation.granted": {
        "delegation_id": "d-1",
        "customer_id": "contoso",
        "partner_id": "tailwind",
        "kind": "gdap",
        "roles": ["Global Reader", "Helpdesk Administrator"],
        "expires_at": "2021-03-01T00:00:00Z",
    },
    "delegation.revoked": {"delegation_id": "d-1"},
    "delegation.requested": {
        "delegation_id": "d-1",
        "customer_id": "contoso",
        "partner_id": "tailwind",
        "roles": ["Global Reader", "Helpdesk Administrator"],
        "duration": "P730D",
        "auto_extend": "P180D",
        "name": "Tailwind support",
    },
    "delegation.extended": {"delegation_id": "d-1", "expires_at": "2021-08-28T00:00:00Z"},
    "subscription.switched": {
        "subscription_id": "sub-1",
        "from_partner_id": "fabrikam",
        "to_partner_id": "tailwind",
        "to_reseller_id": "litware",
    },
    "subscription.cancelled": {"subscription_id": "sub-1"},
}
assert set(BASE_DATA) == set(EVENT_TYPES)

# Kinds of every path: a data field's kind from EVENT_TYPES, the rest here.
TOP_KINDS = {
    "event_id": "uuid",
    "type": "type",
    "effective_at": "time",
    "actor": "object",
    "actor.id": "actor-text",
    "actor.role": "choice",
    "actor.tenant_id": "id",
    "data": "object",
    "note": "note",
}
OPTIONAL_TOP = {"event_id", "note"}
# Data fields the base event needs given its other values (contract: conditionally required).
CONDITIONAL = {"seller_id", "term_end", "expires_at"}
LIMITS = {"text": 1024, "note": 4096, "actor-text": 256, "id": 128, "texts-item": 128}
ODD = (
    "\u00a0",  # no-break space
    "\u200b",  # zero-width space
    "\u200f",  # right-to-left mark
    "\u202e",  # right-to-left override
    "\u0301",  # combining acute accent
    "\ufeff",  # byte order mark
    "\u0430",  # Cyrillic a
    "\uff11",  # fullwidth digit one
    "\u0663",  # Arabic-Indic digit three
    "\U0001f600",  # emoji
    "\U000e0041",  # tag character
    "\u2028",  # line separator
    "\t",
    "\n",
    " ",
    "é",
    "ß",
    "İ",
    "/",
    "?",
    "%",
    "\\",
    '"',
)
BAD_TIMES = (
    "",
    "2019-03-01",
    "2019-03-01T09:00:00",
    "2019-03-01 09:00:00Z",
    "2019-03-01T09:00Z",
    "2019-03-01T09:00:00+0100",
    "2019-03-01T09:00:00+01",
    "2019-03-01T09:00:00.1234567Z",
    "2019-03-01T09:00:00.Z",
    "2019-02-29T00:00:00Z",
    "2019-02-30T00:00:00Z",
    "2019-13-01T00:00:00Z",
    "2019-00-01T00:00:00Z",
    "2019-04-31T00:00:00Z",
    "2019-03-32T00:00:00Z",
    "2019-03-01T24:00:00Z",
    "2019-03-01T23:60:00Z",
    "2016-12-31T23:59:60Z",
    "2019-03-01T09:00:00+24:00",
    "2019-03-01T09:00:00-24:00",
    "2019-03-01T09:00:00+23:60",
    "1899-12-31T23:59:59Z",
    "1900-01-01T00:30:00+01:00",
    "9000-01-01T00:00:00Z",
    "8999-12-31T23:30:00-01:00",
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+00:01",
    "0000-01-01T00:00:00Z",
    "-2019-03-01T09:00:00Z",
    "+2019-03-01T09:00:00Z",
    "20190-03-01T09:00:00Z",
    "2019-03-01T09:00:00ZZ",
    " 2019-03-01T09:00:00Z",
    "2019-03-01T09:00:00Z ",
    "2019-03-01T09:00:00Z\n",
    "\u0662\u0660\u0661\u0669-\u0660\u0663-\u0660\u0661T09:00:00Z",  # Arabic-Indic digits
    "\uff12\uff10\uff11\uff19-03-01T09:00:00Z",  # fullwidth digits
    "2019-03-01T09:00:00\u200bZ",
    "2019-W09-5T09:00:00Z",
    "2019-060T09:00:00Z",
    "1551430800",
    "now",
)


@dataclass(frozen=True)
class Case:
    """One spoiled event: its bytes, the field its error must name (None: any field), and
    whether it must be refused (False: the spoiling may leave a valid event)."""

    kind: str
    text: bytes
    field: str | None
    must_fail: bool = True

    def __repr__(self) -> str:  # short, for hypothesis' falsifying examples
        shown = self.text if len(self.text) < 400 else self.text[:200] + b"..." + self.text[-100:]
        return f"Case({self.kind!r}, {shown!r}, field={self.field!r}, must_fail={self.must_fail})"


def base_event(type_name: str) -> dict[str, Any]:
    return {
        "event_id": EVENT_ID,
        "type": type_name,
        "effective_at": "2019-03-01T09:00:00Z",
        "actor": {"id": "alice@fabrikam.example", "role": "customer-global-admin", "tenant_id": "fabrikam"},
        "data": copy.deepcopy(BASE_DATA[type_name]),
        "note": "order 4711",
    }


def kinds(type_name: str) -> dict[str, str]:
    """Every path of the base event of ``type_name`` with its kind."""
    out = dict(TOP_KINDS)
    for f in EVENT_TYPES[type_name].fields:
        # A duration is text of a form of its own (ISO 8601): no other text is one.
        out[f"data.{f.name}"] = "duration" if f.name == "duration" else f.kind
        if f.kind in ("ids", "texts"):
            out[f"data.{f.name}[0]"] = "id" if f.kind == "ids" else "texts-item"
    return out


def required(type_name: str, path: str) -> bool:
    if path in OPTIONAL_TOP:
        return False
    if not path.startswith("data.") or "[" in path:
        return True
    name = path.removeprefix("data.")
    spec = next(f for f in EVENT_TYPES[type_name].fields if f.name == name)
    return spec.required or name in CONDITIONAL


def _string_paths(type_name: str) -> list[tuple[str, str]]:
    """The paths of the base event whose value is a string, with their kinds."""
    return sorted((p, k) for p, k in kinds(type_name).items() if k not in ("object", "ids", "texts"))


def put(event: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``event`` with ``path`` (``a.b`` or ``a.b[0]``) set to ``value`` (``...``: removed)."""
    out = copy.deepcopy(event)
    *parents, last = path.split(".")
    target: Any = out
    for key in parents:
        target = target[key]
    index = None
    if last.endswith("]"):
        last, _, rest = last.partition("[")
        index = int(rest[:-1])
    if index is not None:
        target[last][index] = value
    elif value is ...:
        del target[last]
    else:
        target[last] = value
    return out


def get(event: dict[str, Any], path: str) -> Any:
    target: Any = event
    for key in path.split("."):
        if key.endswith("]"):
            key, _, rest = key.partition("[")
            target = target[key][int(rest[:-1])]
        else:
            target = target[key]
    return target


def dump(event: Any) -> bytes:
    """JSON text; lone surrogates are escaped (``\\ud800``), as another JSON writer would."""
    try:
        return orjson.dumps(event)
    except TypeError:
        return json.dumps(event, ensure_ascii=True).encode()


def make(kind: str, event: Any, field: str | None, must_fail: bool = True) -> Case:
    """The case of a spoiled event, as JSON text. A lone surrogate anywhere in it makes the
    text itself malformed (the parser refuses it before any field): then the error names
    ``event``, whatever else was spoiled."""
    try:
        orjson.dumps(event)
    except TypeError as exc:
        if "surrogates" in str(exc):
            return Case(kind, dump(event), "event")
    return Case(kind, dump(event), field, must_fail)


# --- the spoilings --------------------------------------------------------------------------

types = st.sampled_from(sorted(EVENT_TYPES))
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def _of_other_type(kind: str) -> st.SearchStrategy[Any]:
    """A JSON value whose type is wrong for a path of ``kind``."""
    scalars = st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    containers = st.lists(json_values, max_size=3) | st.dictionaries(
        st.text(max_size=8), json_values, max_size=3
    )
    if kind == "object":
        return scalars | st.text(max_size=20) | st.lists(json_values, max_size=3)
    if kind in ("ids", "texts"):
        return scalars | st.text(max_size=20) | st.dictionaries(st.text(max_size=8), json_values, max_size=3)
    return scalars | containers


@st.composite
def wrong_type(draw: st.DrawFn) -> Case:
    t = draw(types)
    path, kind = draw(st.sampled_from(sorted(kinds(t).items())))
    value = draw(_of_other_type(kind) | (st.none() if required(t, path) else st.nothing()))
    return make("wrong-type", put(base_event(t), path, value), path)


@st.composite
def unknown_key(draw: st.DrawFn) -> Case:
    t = draw(types)
    where = draw(st.sampled_from(("", "actor.", "data.")))
    key = draw(
        st.text(min_size=0, max_size=80) | st.sampled_from(("Type", "data ", "eventId", "customer", "ID"))
    )
    event = base_event(t)
    target = event if not where else event[where[:-1]]
    allowed = set(target) | ({"position", "recorded_at", "hash", "prev_hash"} if not where else set())
    if where == "data.":
        allowed |= {f.name for f in EVENT_TYPES[t].fields}
    if key in allowed:
        key += "_x"
    target[key] = draw(json_values)
    shown = (
        key if key.isprintable() and key == key.strip() != "" else repr(key)
    )  # quoted if it would not show
    return make("unknown-key", event, f"{where}{shown[:64]}")


@st.composite
def missing_key(draw: st.DrawFn) -> Case:
    t = draw(types)
    paths = [p for p in kinds(t) if "[" not in p and required(t, p) and p.count(".") <= 1]
    path = draw(st.sampled_from(sorted(paths)))
    return make("missing-key", put(base_event(t), path, ...), path)


@st.composite
def huge_string(draw: st.DrawFn) -> Case:
    t = draw(types)
    strings = sorted(p for p, k in kinds(t).items() if k not in ("object", "ids", "texts"))
    path = draw(st.sampled_from(strings))
    size = draw(st.integers(4097, 400_000))
    piece = draw(st.sampled_from(("x", "a1", "é", "\U0001f600", " ", "-", "0")))
    value = (piece * (size // len(piece) + 1))[:size]
    return make("huge-string", put(base_event(t), path, value), path)


@st.composite
def odd_unicode(draw: st.DrawFn) -> Case:
    t = draw(types)
    path, kind = draw(
        st.sampled_from(sorted((p, k) for p, k in kinds(t).items() if k not in ("object", "ids", "texts")))
    )
    event = base_event(t)
    value = str(get(event, path))
    odd = draw(st.sampled_from(ODD) | st.characters(min_codepoint=0x80))
    at = draw(st.integers(0, len(value)))
    spoiled = value[:at] + odd + value[at:]
    if kind in ("text", "note", "actor-text", "texts-item"):
        # Free text: odd but valid unicode is fine; NUL, a lone surrogate, blank text are not.
        special = draw(st.sampled_from(("keep", "nul", "surrogate", "blank")))
        if special == "keep":
            # A control character is refused (issue 12.7), but for a note's tab and line breaks.
            if unicodedata.category(odd) == "Cc" and not (kind == "note" and odd in "\t\n\r"):
                return make("odd-unicode", put(event, path, spoiled), path)
            return make("odd-unicode", put(event, path, spoiled), path, must_fail=False)
        if special == "nul":
            return make("odd-unicode", put(event, path, spoiled + "\x00"), path)
        if special == "surrogate":
            return make("odd-unicode", put(event, path, spoiled + "\ud800"), "event")
        blank = draw(st.text(alphabet=" \t\n\r\u00a0\u2003\u3000", min_size=0, max_size=5))
        return make("odd-unicode", put(event, path, blank), path)
    if kind == "uuid" and odd in "\t\n ":
        spoiled = value[:at] + "g" + value[at:]
    return make("odd-unicode", put(event, path, spoiled), path)


@st.composite
def bad_time(draw: st.DrawFn) -> Case:
    t = draw(types)
    path = draw(st.sampled_from(sorted(p for p, k in kinds(t).items() if k == "time")))
    generated = st.builds(
        "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}{}".format,
        st.integers(0, 9999),
        st.integers(0, 99),
        st.integers(0, 99),
        st.integers(0, 99),
        st.integers(0, 99),
        st.integers(0, 99),
        st.sampled_from(("Z", "+01:00", "-23:59", "+99:00", "", "z")),
    ).filter(_not_a_valid_time)
    value = draw(st.sampled_from(BAD_TIMES) | generated)
    return make("bad-time", put(base_event(t), path, value), path)


def _not_a_valid_time(text: str) -> bool:
    try:
        from ledger._time import parse_time

        parse_time(text, "t")
    except BadInput:
        return True
    return False


@st.composite
def bad_value(draw: st.DrawFn) -> Case:
    """A string of the right type that is not a valid value: choice, id, UUID, type."""
    t = draw(types)
    path, kind = draw(
        st.sampled_from(sorted((p, k) for p, k in kinds(t).items() if k in ("choice", "id", "uuid", "type")))
    )
    value = get(base_event(t), path)
    variants = [value.upper(), value + " ", " " + value, "", value + "\x00", value[:-1], value + value]
    if kind == "id":
        variants += ["x" * 129, "a b", "sub/1", "ü", "sub,1", "sub#1"]
    if kind == "uuid":
        variants += [
            "{" + value + "}",
            "urn:uuid:" + value,
            value.replace("-", ""),
            value[:-1] + "g",
            value + "0",
        ]
    if kind in ("choice", "type"):
        variants += ["CSP", "Commercial", "csp_direct", "subscription-purchased", "null"]
    spoiled = draw(st.sampled_from(variants) | st.text(max_size=30))
    if not _invalid_at(t, path, spoiled):
        spoiled = "\x00" + spoiled
    return make("bad-value", put(base_event(t), path, spoiled), path)


def _invalid_at(type_name: str, path: str, value: str) -> bool:
    """Whether ``value`` is a bad value for ``path`` itself (another valid choice may be bad
    only with another field, which the error then names instead)."""
    try:
        parse_event_json(dump(put(base_event(type_name), path, value)))
    except BadInput as error:
        return error.field == path
    return False


@st.composite
def bad_list(draw: st.DrawFn) -> Case:
    t = draw(st.sampled_from(("partner.registered", "partner.program-changed", "delegation.granted")))
    path = "data.roles" if t == "delegation.granted" else "data.provider_ids"
    item = "Global Reader" if t == "delegation.granted" else "tailwind"
    value = draw(
        st.sampled_from(([], [item, item], [f"x{i}" for i in range(65)]))
        | st.lists(st.sampled_from(("a", "b", "c", "d")), min_size=2, max_size=6).filter(
            lambda v: len(set(v)) < len(v)
        )
    )
    return make("bad-list", put(base_event(t), path, value), path)


@st.composite
def cross_field(draw: st.DrawFn) -> Case:
    choice = draw(st.integers(0, 4))
    if choice == 0:  # a reseller of record for a sale that is not through csp
        event = base_event("subscription.purchased")
        event["data"]["channel"] = draw(
            st.sampled_from(("microsoft", "advisor", "open", "ea", "third-party"))
        )
        return make("cross-field", event, "data.reseller_id")
    if choice == 1:  # providers for a partner that is not an indirect reseller
        event = base_event(draw(st.sampled_from(("partner.registered", "partner.program-changed"))))
        event["data"]["program"] = draw(
            st.sampled_from(("csp-direct", "csp-indirect-provider", "advisor", "none"))
        )
        return make("cross-field", event, "data.provider_ids")
    if choice == 2:  # no seller where the channel needs one
        event = base_event("subscription.purchased")
        event["data"]["channel"] = draw(st.sampled_from(("advisor", "syndication", "third-party")))
        del event["data"]["seller_id"], event["data"]["reseller_id"]
        return make("cross-field", event, "data.seller_id")
    if choice == 3:  # a licence without a term end
        event = base_event("subscription.purchased")
        del event["data"]["term_end"]
        return make("cross-field", event, "data.term_end")
    event = base_event("delegation.granted")  # GDAP without an expiry
    del event["data"]["expires_at"]
    return make("cross-field", event, "data.expires_at")


@st.composite
def not_json(draw: st.DrawFn) -> Case:
    """Malformed JSON text: a truncated event, bytes that are no UTF-8, JSON values that are
    not an object, an event spliced with junk (which may by chance still be valid)."""
    text = dump(base_event(draw(types)))
    how = draw(st.sampled_from(("truncate", "bytes", "value", "splice", "nested", "bom")))
    if how == "truncate":
        return Case("not-json", text[: draw(st.integers(0, len(text) - 1))], "event")
    if how == "bytes":
        blob = draw(st.binary(max_size=200))
        return Case("not-json", blob, None)
    if how == "value":
        value = draw(json_values.filter(lambda v: not isinstance(v, dict)))
        return make("not-json", value, "event")
    if how == "nested":
        depth = draw(st.integers(1025, 5000))
        return Case("not-json", b"[" * depth + b"]" * depth, "event")
    if how == "bom":
        return Case("not-json", b"\xef\xbb\xbf" + text, "event")
    at = draw(st.integers(0, len(text)))
    junk = draw(st.binary(min_size=1, max_size=20))
    return Case("not-json", text[:at] + junk + text[at:], None, must_fail=False)


@st.composite
def deep_value(draw: st.DrawFn) -> Case:
    """Deeply nested JSON where a string belongs: a wrong type within the parser's depth limit,
    malformed JSON beyond it."""
    t = draw(types)
    path = draw(
        st.sampled_from(sorted(p for p, k in kinds(t).items() if k not in ("object", "ids", "texts")))
    )
    depth = draw(st.integers(1, 1000) | st.integers(1100, 3000))
    opener, closer = (b"[", b"]") if draw(st.booleans()) else (b'{"a":', b"}")
    marker = "MARK-4f1d0e"
    text = dump(put(base_event(t), path, marker)).replace(
        dump(marker), opener * depth + b'"x"' + closer * depth
    )
    return Case("deep", text, path if depth <= 1000 else "event")


def bad_inputs() -> st.SearchStrategy[Case]:
    return st.one_of(
        wrong_type(),
        unknown_key(),
        missing_key(),
        huge_string(),
        odd_unicode(),
        bad_time(),
        bad_value(),
        bad_list(),
        cross_field(),
        not_json(),
        deep_value(),
    )


# --- the oracle ----------------------------------------------------------------------------


def check_bad_input(error: BadInput, field: str | None) -> None:
    """Bad input that names the field, briefly (the message never echoes huge input); where
    several fields are at fault, each is named, in one message."""
    assert error.field and error.problems, error.message
    for problem in error.problems:
        assert problem.field and problem.message.startswith(problem.field), problem.message
        assert problem.message in error.message, error.message
    if field is not None:
        named = [p.field for p in error.problems]
        assert field in named, f"named {named!r}, not {field!r}: {error.message}"
    assert len(error.message) < 800 * len(error.problems), f"a message of {len(error.message)} characters"


def judge_library(case: Case) -> str:
    """``bad`` (refused as bad input, naming the field) or ``valid`` (a spoiling that left a
    valid event, where the case allows it). Anything else raises."""
    try:
        parse_event_json(case.text)
    except BadInput as error:
        check_bad_input(error, case.field)
        return "bad"
    assert not case.must_fail, f"accepted as valid: {case!r}"
    return "valid"


@contextmanager
def _stdio(stdin: bytes) -> Iterator[tuple[io.BytesIO, io.BytesIO]]:
    out, err = io.BytesIO(), io.BytesIO()
    saved = sys.stdin, sys.stdout, sys.stderr, sys.argv
    wrappers = [
        io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"),
        io.TextIOWrapper(out, encoding="utf-8", write_through=True),
        io.TextIOWrapper(err, encoding="utf-8", write_through=True),
    ]
    sys.stdin, sys.stdout, sys.stderr = wrappers
    try:
        yield out, err
    finally:
        sys.stdin, sys.stdout, sys.stderr, sys.argv = saved
        for wrapper in wrappers:
            wrapper.flush()
            wrapper.detach()  # leave the byte buffers open to be read


def run_cli(*args: str, stdin: bytes = b"") -> tuple[int, bytes, bytes]:
    """The ``ledger`` console script's entry point, in this process: (exit code, out, err).
    Whatever escapes it other than its own exit is a traceback and propagates."""
    from cli.app import main

    with _stdio(stdin) as (out, err):
        sys.argv = ["ledger", *args]
        try:
            main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
    return code, out.getvalue(), err.getvalue()


VALID_LINES = [
    dump(
        {
            "type": "customer.registered",
            "effective_at": "2019-01-01T00:00:00Z",
            "actor": {"id": "ops@contoso.example", "role": "global-admin", "tenant_id": "contoso"},
            "data": {"customer_id": f"fuzz-{n}", "name": "Fuzz", "cloud": "commercial"},
        }
    )
    for n in range(2)
]


def prepare_store(url: str) -> None:
    """A store holding the two valid lines of every import file, so that re-importing them
    would store nothing (and a file whose bad line is skipped is refused by a rule)."""
    with Ledger(url) as ledger:
        ledger.record_many([(n, parse_event_json(line)) for n, line in enumerate(VALID_LINES, start=1)])


def store_state(url: str) -> tuple[Any, ...]:
    """Everything stored: head, the export, every projection row."""
    from projections import TABLES

    with Ledger(url) as ledger:
        rows = []
        with ledger.read() as db:
            for name in [t.sql_name for t in TABLES] + ["prj_event_refs", "ledger_chain"]:
                db.execute(f"SELECT * FROM {name}")
                rows.append(sorted(repr(sorted(dict(r).items())) for r in db.fetchall()))
        return ledger.head(), list(ledger.stored()), rows


def judge_cli(case: Case, url: str, folder: Path) -> str:
    """Record the case with ``record --event -`` and import it as line 2 of 3; for bad input:
    exit 2, a JSON error naming the field (and the line), nothing stored. Returns ``bad`` or
    ``valid`` (then nothing is checked about storing: it was not bad input)."""
    verdict = judge_library(case)
    if verdict == "valid":
        return verdict
    with Ledger(url) as ledger:
        head = ledger.head()
    code, out, err = run_cli("--db", url, "record", "--json", "--event", "-", stdin=case.text)
    _bad_exit(code, out, err, case.field, None)
    lines = folder / "fuzz.jsonl"
    # A line holds no line break: JSON text never needs a raw one, so it is spoiled as it is.
    middle = case.text.replace(b"\n", b"\\n").replace(b"\r", b"\\r")
    lines.write_bytes(VALID_LINES[0] + b"\n" + middle + b"\n" + VALID_LINES[1] + b"\n")
    code, out, err = run_cli("--db", url, "import", str(lines), "--json")
    # A blank line is skipped (the file then holds two events already stored: exit 3).
    if middle.strip() and (
        middle == case.text or judge_library(Case(case.kind, middle, None, must_fail=False)) == "bad"
    ):
        _bad_exit(code, out, err, case.field if middle == case.text else None, 2)
    with Ledger(url) as ledger:
        assert ledger.head() == head or not middle.strip(), "bad input stored something"
    return "bad"


def _bad_exit(code: int, out: bytes, err: bytes, field: str | None, line: int | None) -> None:
    assert b"Traceback" not in err and b"Traceback" not in out, err.decode(errors="replace")
    assert code == 2, (code, out[:500], err[:500])
    error = orjson.loads(out)["error"]
    assert error["code"] == "bad-input", error
    if field is not None:
        assert error["message"].startswith(field), (field, error["message"])
    if line is not None:
        assert error.get("line") == line, error


# --- the long pass -------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=100_000, help="generated inputs (library)")
    parser.add_argument("--cli-every", type=int, default=20, help="also through the command, one in N")
    args = parser.parse_args()

    from hypothesis import HealthCheck, given, settings

    counts: Counter[str] = Counter()
    failures: list[str] = []
    started = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="ledger-fuzz-"))
    url = f"sqlite:///{folder / 'fuzz.db'}"
    prepare_store(url)
    before = store_state(url)

    @settings(
        max_examples=args.inputs,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(bad_inputs())
    def one(case: Case) -> None:
        n = sum(counts[k] for k in ("bad", "valid", "traceback", "wrong"))
        try:
            verdict = judge_library(case)
            if verdict == "bad" and args.cli_every and n % args.cli_every == 0:
                judge_cli(case, url, folder)
                counts["through the command"] += 1
        except AssertionError as exc:
            counts["wrong"] += 1
            failures.append(f"{case!r}: {exc}")
            return
        except Exception:
            counts["traceback"] += 1
            failures.append(f"{case!r}: {traceback.format_exc()}")
            return
        counts[verdict] += 1
        counts[f"kind {case.kind}"] += 1

    one()
    after = store_state(url)
    stored_bytes = 0 if after == before else 1
    seconds = time.monotonic() - started
    print(f"inputs: {counts['bad'] + counts['valid'] + counts['traceback'] + counts['wrong']}")
    print(f"refused as bad input naming the field: {counts['bad']}")
    print(f"spoilings that left a valid event (allowed for that spoiling): {counts['valid']}")
    print(f"through the ledger command too (record --event -, import): {counts['through the command']}")
    print(f"tracebacks: {counts['traceback']}")
    print(f"wrong answers (not exit 2, field not named, ...): {counts['wrong']}")
    print(f"stored bytes changed by bad input: {'none' if not stored_bytes else 'YES'}")
    print(f"time: {seconds:.0f}s")
    for kind in sorted(k for k in counts if k.startswith("kind ")):
        print(f"  {kind[5:]}: {counts[kind]}")
    for failure in failures[:20]:
        print("FAILURE:", failure[:2000])
    sys.exit(1 if failures or stored_bytes else 0)


if __name__ == "__main__":
    main()
