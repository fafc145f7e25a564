"""The contract's bad input, at the library level: ``parse_event`` and ``parse_event_json``.

Every case asserts ``BadInput`` whose ``field`` names the offending field (as the CLI's
error message will), and whose message starts with that name. The cases that concern a
field of ``data`` are derived from ``ledger.EVENT_TYPES``, so a new event type or a new
field is covered without editing this file.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import orjson
import pytest

from ledger import EVENT_TYPES, BadInput, Event, parse_event, parse_event_json
from ledger._events import CHANNELS, CHANNELS_WITH_SELLER

from builders import raw

AT = "2019-03-01T09:00:00Z"
EVENT_ID = "7f1c6a52-0f5e-4d0e-9d43-3c7a1f0b9e21"

# A valid value for each field kind, to build events from EVENT_TYPES alone.
_VALID_BY_KIND: dict[str, Any] = {
    "id": "id-1",
    "text": "Some text",
    "time": "2020-03-01T00:00:00Z",
    "ids": ["p-1", "p-2"],
    "texts": ["admin-agent"],
}
# The choice a minimal event uses: one that needs no conditional field.
_MINIMAL_CHOICE = {
    "cloud": "commercial",
    "program": "csp-direct",
    "service": "usage",
    "channel": "microsoft",
    "kind": "dap",
}
# The choice a full event uses: one that allows every optional field.
_FULL_CHOICE = {
    **_MINIMAL_CHOICE,
    "program": "csp-indirect-reseller",
    "service": "license",
    "channel": "csp",
    "kind": "gdap",
}


# Text fields whose text has a form of its own.
_VALID_BY_FIELD = {"duration": "P730D"}


def _value(f: Any, choices: dict[str, str]) -> Any:
    if f.name in _VALID_BY_FIELD:
        return _VALID_BY_FIELD[f.name]
    if f.kind == "choice":
        return choices.get(f.name, f.choices[0])
    return copy.deepcopy(_VALID_BY_KIND[f.kind])


def minimal_data(type_name: str) -> dict[str, Any]:
    """The required fields only, with choices that need no conditional field."""
    return {f.name: _value(f, _MINIMAL_CHOICE) for f in EVENT_TYPES[type_name].fields if f.required}


def full_data(type_name: str) -> dict[str, Any]:
    """Every field, optional ones included, with choices that allow them all."""
    return {f.name: _value(f, _FULL_CHOICE) for f in EVENT_TYPES[type_name].fields}


def event(type_name: str = "customer.registered", **data: Any) -> dict[str, Any]:
    """A valid contract event of ``type_name`` (minimal data), ``data`` overriding fields."""
    body = minimal_data(type_name)
    body.update(data)
    return raw(type_name, AT, "global-admin", "fabrikam", **body)


def with_(obj: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``obj`` with the dotted ``path`` set to ``value`` (``...`` deletes it)."""
    out = copy.deepcopy(obj)
    *parents, last = path.split(".")
    target = out
    for key in parents:
        target = target[key]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return out


def assert_bad(obj: object, field: str) -> BadInput:
    with pytest.raises(BadInput) as info:
        parse_event(obj)
    error = info.value
    assert error.field == field, error.message
    assert error.message.startswith(field), error.message
    assert (error.code, error.exit_code) == ("bad-input", 2)
    assert error.to_json()["error"]["code"] == "bad-input"
    assert len(error.message) < 600, "the message must not echo huge input"
    return error


TYPES = sorted(EVENT_TYPES)


# --- the happy path --------------------------------------------------------------------------


def test_the_builders_cover_every_field_of_every_type() -> None:
    for name, event_type in EVENT_TYPES.items():
        assert set(full_data(name)) == {f.name for f in event_type.fields}
        assert set(minimal_data(name)) == {f.name for f in event_type.fields if f.required}


@pytest.mark.parametrize("type_name", TYPES)
@pytest.mark.parametrize("builder", [minimal_data, full_data], ids=["minimal", "full"])
def test_a_valid_event_of_every_type_parses(type_name: str, builder: Any) -> None:
    data = builder(type_name)
    obj = raw(type_name, AT, "global-admin", "fabrikam", note="ticket 4711", **data)
    obj["event_id"] = EVENT_ID
    parsed = parse_event(obj)
    assert isinstance(parsed, Event)
    assert parsed.type == type_name
    assert parsed.event_id == EVENT_ID
    assert parsed.effective_at == AT
    assert dict(parsed.data) == data
    assert parsed.note == "ticket 4711"
    assert parsed.to_json() == obj
    assert parse_event(parsed.to_json()) == parsed
    assert parse_event_json(orjson.dumps(obj)) == parsed
    assert parse_event_json(orjson.dumps(obj).decode()) == parsed


def test_the_contract_example_parses() -> None:
    text = """{
      "event_id": "7f1c6a52-0f5e-4d0e-9d43-3c7a1f0b9e21",
      "type": "subscription.purchased",
      "effective_at": "2019-03-01T09:00:00Z",
      "actor": {"id": "alice@fabrikam.example", "role": "sales-agent", "tenant_id": "fabrikam"},
      "data": {"subscription_id": "sub-1", "customer_id": "contoso", "offer": "Office 365 E3",
               "service": "license", "channel": "csp", "seller_id": "fabrikam",
               "term_end": "2020-03-01T00:00:00Z"},
      "note": "order 4711"
    }"""
    parsed = parse_event_json(text)
    assert parsed.to_json() == orjson.loads(text)


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("2019-03-01T10:00:00+01:00", "2019-03-01T09:00:00Z"),
        ("2019-03-01T04:30:00-04:30", "2019-03-01T09:00:00Z"),
        ("2019-03-01T00:30:00+01:00", "2019-02-28T23:30:00Z"),
        ("2019-03-01t09:00:00z", "2019-03-01T09:00:00Z"),
        ("2019-03-01T09:00:00+00:00", "2019-03-01T09:00:00Z"),
        ("2019-03-01T09:00:00-00:00", "2019-03-01T09:00:00Z"),
        ("2019-03-01T09:00:00.000000Z", "2019-03-01T09:00:00Z"),
        ("2019-03-01T10:00:00.5+01:00", "2019-03-01T09:00:00.500000Z"),
        ("2019-03-01T09:00:00.123456Z", "2019-03-01T09:00:00.123456Z"),
        ("1900-01-01T00:00:00Z", "1900-01-01T00:00:00Z"),
        ("8999-12-31T23:59:59.999999Z", "8999-12-31T23:59:59.999999Z"),
    ],
)
def test_times_normalise_to_utc_z(given: str, canonical: str) -> None:
    parsed = parse_event(
        raw(
            "delegation.granted",
            given,
            "customer-global-admin",
            "contoso",
            delegation_id="d-1",
            customer_id="contoso",
            partner_id="fabrikam",
            kind="gdap",
            roles=["admin-agent"],
            expires_at=given,
        )
    )
    assert parsed.effective_at == canonical
    assert parsed.data["expires_at"] == canonical


def test_two_spellings_of_one_event_are_equal() -> None:
    a = event(name="Contoso")
    a["event_id"] = EVENT_ID
    b = with_(a, "effective_at", "2019-03-01T10:00:00+01:00")
    b["event_id"] = EVENT_ID.upper()
    assert parse_event(a) == parse_event(b)
    assert parse_event(b).event_id == EVENT_ID


def test_an_absent_event_id_is_generated_as_a_uuid() -> None:
    first, second = parse_event(event()), parse_event(event())
    for parsed in (first, second):
        assert str(uuid.UUID(parsed.event_id)) == parsed.event_id
    assert first.event_id != second.event_id
    assert parse_event(with_(event(), "event_id", None)).event_id  # null: generated too


def test_absent_optionals_are_left_out() -> None:
    parsed = parse_event(event("subscription.purchased", term_end=None, seller_id=None))
    assert "note" not in parsed.to_json()
    assert set(parsed.data) == set(minimal_data("subscription.purchased"))
    assert parse_event(with_(event(), "note", None)).note is None


def test_chain_fields_of_an_export_line_are_accepted_and_dropped() -> None:
    line = {**event(), "position": 3, "recorded_at": AT, "prev_hash": "0" * 64, "hash": "1" * 64}
    assert set(parse_event(line).to_json()) == {"event_id", "type", "effective_at", "actor", "data"}


def test_limits_are_inclusive() -> None:
    parse_event(event(customer_id="c" * 128, name="n" * 1024))
    parse_event({**event(), "note": "n" * 4096})
    parse_event(with_(event(), "actor.id", "a" * 256))
    parse_event(event("delegation.granted", roles=[f"r{i}" for i in range(64)]))
    parse_event(event("customer.registered", customer_id="A-Z.a_z:0-9"))


# --- missing and unknown keys ----------------------------------------------------------------


@pytest.mark.parametrize("key", ["type", "effective_at", "actor", "data"])
def test_a_missing_top_level_key(key: str) -> None:
    assert_bad(with_(event(), key, ...), key)


@pytest.mark.parametrize("key", ["id", "role", "tenant_id"])
def test_a_missing_actor_key(key: str) -> None:
    assert_bad(with_(event(), f"actor.{key}", ...), f"actor.{key}")
    assert_bad(with_(event(), f"actor.{key}", None), f"actor.{key}")


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("colour", "colour"),
        ("eventId", "eventId"),
        ("Type", "Type"),
        ("actor.email", "actor.email"),
        ("data.colour", "data.colour"),
    ],
)
def test_an_unknown_key(path: str, field: str) -> None:
    error = assert_bad(with_(event(), path, "x"), field)
    assert "not a known field" in error.message


@pytest.mark.parametrize("type_name", TYPES)
def test_an_unknown_data_key_for_each_type(type_name: str) -> None:
    obj = event(type_name)
    obj["data"]["colour"] = "blue"
    error = assert_bad(obj, "data.colour")
    assert type_name in error.message


def test_a_data_key_of_another_type_is_unknown() -> None:
    assert_bad(event("customer.registered", partner_id="fabrikam"), "data.partner_id")
    assert_bad(event("relationship.accepted", customer_id="contoso"), "data.customer_id")


REQUIRED = [(t, f.name) for t in TYPES for f in EVENT_TYPES[t].fields if f.required]


@pytest.mark.parametrize(("type_name", "name"), REQUIRED, ids=[f"{t}:{n}" for t, n in REQUIRED])
def test_a_missing_required_data_field(type_name: str, name: str) -> None:
    obj = event(type_name)
    del obj["data"][name]
    error = assert_bad(obj, f"data.{name}")
    assert "missing" in error.message
    obj["data"][name] = None
    assert_bad(obj, f"data.{name}")


# --- wrong types -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("type", 5),
        ("type", None),
        ("type", ["customer.registered"]),
        ("effective_at", 1551430800),
        ("effective_at", None),
        ("effective_at", {"at": AT}),
        ("actor", []),
        ("actor", "alice"),
        ("actor", None),
        ("data", []),
        ("data", "contoso"),
        ("data", None),
        ("actor.id", 5),
        ("actor.id", True),
        ("actor.role", 1),
        ("actor.tenant_id", ["fabrikam"]),
        ("event_id", 5),
        ("event_id", {"id": EVENT_ID}),
        ("note", 4711),
        ("note", ["order"]),
        ("data.name", 5),
        ("data.name", False),
        ("data.name", {"first": "Contoso"}),
        ("data.customer_id", 7),
        ("data.cloud", ["commercial"]),
    ],
)
def test_a_wrong_type(path: str, value: Any) -> None:
    assert_bad(with_(event(), path, value), path)


WRONG_BY_KIND: dict[str, list[Any]] = {
    "id": [42, 1.5, True, ["x"], {"id": "x"}],
    "text": [42, True, ["x"], {"t": "x"}],
    "time": [1551430800, True, ["2019-03-01T09:00:00Z"]],
    "choice": [42, True, ["x"]],
    "ids": ["p-1", 42, {"p-1": True}, [42], [None], [["p-1"]]],
    "texts": ["admin-agent", 42, {"a": 1}, [42], [None], [["admin-agent"]]],
}
WRONG = [(t, f.name, v) for t in TYPES for f in EVENT_TYPES[t].fields for v in WRONG_BY_KIND[f.kind]]


@pytest.mark.parametrize(("type_name", "name", "value"), WRONG, ids=[f"{t}:{n}={v!r}" for t, n, v in WRONG])
def test_a_wrong_type_for_each_data_field(type_name: str, name: str, value: Any) -> None:
    obj = event(type_name)
    obj["data"][name] = value
    with pytest.raises(BadInput) as info:
        parse_event(obj)
    # A wrong list item names the item (data.roles[0]); anything else names the field.
    assert info.value.field in (f"data.{name}", f"data.{name}[0]"), info.value.message
    assert info.value.message.startswith(info.value.field)


# --- bad values ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "2019-03-01T09:00:00",  # no offset
        "2019-03-01T09:00:00.123",  # no offset
        "2019-03-01",  # date only
        "2019-03-01T09:00Z",  # no seconds
        "2019-03-01 09:00:00Z",  # space
        "2019-03-01T09:00:00+0100",  # offset without colon
        "2019-03-01T09:00:00+01",
        "2019-03-01T09:00:00 Z",
        " 2019-03-01T09:00:00Z",
        "2019-03-01T09:00:00Z\n",
        "2019-03-01T09:00:00.1234567Z",  # 7 fraction digits
        "20190301T090000Z",  # basic format
        "yesterday",
        "",
        "2019-13-01T09:00:00Z",  # malformed: month 13
        "2019-02-30T09:00:00Z",
        "2019-03-01T24:00:00Z",
        "2019-03-01T23:59:60Z",  # leap second
        "2019-03-01T09:00:00+24:00",
        "\u0662\u0660\u0661\u0669-03-01T09:00:00Z",  # Arabic-Indic digits
        "1899-12-31T23:59:59Z",  # out of range
        "1900-01-01T00:30:00+01:00",  # in range locally, 1899 in UTC
        "9000-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:30:00+01:00",  # before year 1 in UTC
        "9999-12-31T23:59:59-01:00",  # after year 9999 in UTC
        "0000-01-01T00:00:00Z",
        "2019-03-01T09:00:00Z" + "0" * 100_000,  # huge
    ],
)
def test_a_bad_time(value: str) -> None:
    assert_bad(with_(event(), "effective_at", value), "effective_at")
    assert_bad(event("delegation.granted", kind="gdap", expires_at=value), "data.expires_at")
    assert_bad(event("subscription.purchased", service="license", term_end=value), "data.term_end")


@pytest.mark.parametrize(
    "value",
    [
        "not-a-uuid",
        "",
        "7f1c6a52-0f5e-4d0e-9d43-3c7a1f0b9e2",  # one digit short
        "7f1c6a52-0f5e-4d0e-9d43-3c7a1f0b9e211",  # one digit long
        "7f1c6a520f5e4d0e9d433c7a1f0b9e21",  # no hyphens
        "{7f1c6a52-0f5e-4d0e-9d43-3c7a1f0b9e21}",
        "urn:uuid:7f1c6a52-0f5e-4d0e-9d43-3c7a1f0b9e21",
        "7f1c6a52-0f5e-4d0e-9d43-3c7a1f0b9e2g",  # not hex
        "----7f1c6a520f5e4d0e9d433c7a1f0b9e21",  # hyphens in the wrong places
        "7f1c6a5_-0f5e-4d0e-9d43-3c7a1f0b9e21",  # int() would take the underscore
        "\u0660" * 8 + "-0f5e-4d0e-9d43-3c7a1f0b9e21",  # non-ASCII digits
        " 7f1c6a52-0f5e-4d0e-9d43-3c7a1f0b9e21",
        "7f1c6a52-0f5e-4d0e-9d43-3c7a1f0b9e21\n",
        "x" * 100_000,
    ],
)
def test_a_bad_event_id(value: str) -> None:
    assert_bad({**event(), "event_id": value}, "event_id")


ENUMS = [
    ("customer.registered", "data.cloud", "azure"),
    ("customer.registered", "data.cloud", "Commercial"),
    ("customer.registered", "data.cloud", ""),
    ("partner.registered", "data.cloud", "public"),
    ("partner.registered", "data.program", "csp"),
    ("partner.registered", "data.program", "CSP-direct"),
    ("partner.program-changed", "data.program", "gold"),
    ("subscription.purchased", "data.channel", "reseller"),
    ("subscription.purchased", "data.channel", "CSP"),
    ("subscription.purchased", "data.service", "seat"),
    ("delegation.granted", "data.kind", "lighthouse"),
    ("delegation.granted", "data.kind", "GDAP"),
    ("customer.registered", "actor.role", "owner"),
    ("customer.registered", "actor.role", "Global-Admin"),
    ("customer.registered", "actor.role", "global_admin"),
]


@pytest.mark.parametrize(("type_name", "path", "value"), ENUMS)
def test_a_bad_enum_value(type_name: str, path: str, value: str) -> None:
    error = assert_bad(with_(event(type_name), path, value), path)
    assert "not one of" in error.message


BAD_IDS = [
    "a b",
    "a/b",
    "a\\b",
    "a@b",
    "a,b",
    "caf\u00e9",
    "a\nb",
    "ab\n",
    "a\tb",
    "a\x00b",
    "",
    "x" * 129,
    "x" * 100_000,
]


@pytest.mark.parametrize("value", BAD_IDS)
@pytest.mark.parametrize(
    ("type_name", "path"),
    [
        ("customer.registered", "data.customer_id"),
        ("subscription.purchased", "data.subscription_id"),
        ("customer.registered", "actor.tenant_id"),
    ],
)
def test_a_bad_id(type_name: str, path: str, value: str) -> None:
    assert_bad(with_(event(type_name), path, value), path)


@pytest.mark.parametrize("value", BAD_IDS)
def test_a_bad_id_in_a_list(value: str) -> None:
    obj = event("partner.registered", program="csp-indirect-reseller", provider_ids=["p-1", value])
    assert_bad(obj, "data.provider_ids[1]")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"roles": []}, "data.roles"),
        ({"roles": ["admin-agent", "admin-agent"]}, "data.roles"),
        ({"roles": [f"r{i}" for i in range(65)]}, "data.roles"),
        ({"roles": [""]}, "data.roles[0]"),
        ({"roles": ["admin-agent", "  "]}, "data.roles[1]"),
        ({"roles": ["r" * 129]}, "data.roles[0]"),
        ({"roles": ["admin\x00agent"]}, "data.roles[0]"),
    ],
)
def test_bad_roles(data: dict[str, Any], field: str) -> None:
    assert_bad(event("delegation.granted", **data), field)


def test_an_empty_provider_list() -> None:
    obj = event("partner.registered", program="csp-indirect-reseller", provider_ids=[])
    assert_bad(obj, "data.provider_ids")


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("data.name", "Con\x00toso"),
        ("data.name", "\x00"),
        ("note", "order\x004711"),
        ("actor.id", "alice\x00@fabrikam.example"),
        ("data.name", "\ud800"),  # a lone surrogate
        ("data.name", ""),
        ("data.name", " \t\n"),
        ("note", ""),
        ("actor.id", ""),
    ],
)
def test_bad_text(path: str, value: str) -> None:
    assert_bad(with_(event(), path, value), path)


@pytest.mark.parametrize(
    ("path", "size"),
    [
        ("data.name", 1025),
        ("data.name", 10_000_000),
        ("note", 4097),
        ("actor.id", 257),
        ("type", 100_000),
        ("actor.role", 100_000),
        ("data.cloud", 100_000),
    ],
)
def test_a_huge_string(path: str, size: int) -> None:
    assert_bad(with_(event(), path, "x" * size), path)


def test_a_huge_unknown_key_is_named_briefly() -> None:
    obj = event()
    obj["k" * 100_000] = 1
    error = assert_bad(obj, "k" * 64)
    assert "not a known field" in error.message


def test_an_unknown_type() -> None:
    error = assert_bad(with_(event(), "type", "subscription.bought"), "type")
    assert "subscription.purchased" in error.message  # lists the known types


# --- fields the contract makes conditional -----------------------------------------------------


@pytest.mark.parametrize("channel", sorted(CHANNELS_WITH_SELLER))
def test_a_seller_is_required_for_channel(channel: str) -> None:
    obj = event("subscription.purchased", channel=channel)
    error = assert_bad(obj, "data.seller_id")
    assert channel in error.message
    parse_event(event("subscription.purchased", channel=channel, seller_id="fabrikam"))


@pytest.mark.parametrize("channel", sorted(set(CHANNELS) - CHANNELS_WITH_SELLER))
def test_no_seller_is_needed_for_channel(channel: str) -> None:
    parse_event(event("subscription.purchased", channel=channel))


def test_a_license_needs_a_term_end() -> None:
    assert_bad(event("subscription.purchased", service="license"), "data.term_end")
    parse_event(event("subscription.purchased", service="license", term_end="2020-03-01T00:00:00Z"))
    parse_event(event("subscription.purchased", service="usage"))


def test_gdap_needs_an_expiry() -> None:
    assert_bad(event("delegation.granted", kind="gdap"), "data.expires_at")
    parse_event(event("delegation.granted", kind="gdap", expires_at="2021-03-01T00:00:00Z"))
    parse_event(event("delegation.granted", kind="dap"))


@pytest.mark.parametrize("channel", sorted(set(CHANNELS) - {"csp"}))
def test_a_reseller_is_only_for_csp(channel: str) -> None:
    obj = event("subscription.purchased", channel=channel, seller_id="fabrikam", reseller_id="r-1")
    assert_bad(obj, "data.reseller_id")


@pytest.mark.parametrize("type_name", ["partner.registered", "partner.program-changed"])
def test_providers_are_only_for_indirect_resellers(type_name: str) -> None:
    assert_bad(event(type_name, program="csp-direct", provider_ids=["p-1"]), "data.provider_ids")
    parse_event(event(type_name, program="csp-indirect-reseller", provider_ids=["p-1"]))
    parse_event(event(type_name, program="csp-indirect-reseller"))


# --- not an object, not JSON ---------------------------------------------------------------


@pytest.mark.parametrize("value", [None, 1, "event", [], [{}], True])
def test_an_event_that_is_not_an_object(value: object) -> None:
    assert_bad(value, "event")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "{",
        "not json",
        '{"type": }',
        '{"type": "customer.registered",}',
        "{'type': 'customer.registered'}",
        '{"n": NaN}',
        '{"n": 1e99999}',
        '{"a": 1} {"b": 2}',
        "[" * 2000 + "]" * 2000,
        b"\xff\xfe",
        b'{"type": "caf\xe9"}',  # Latin-1, not UTF-8
        b'\xef\xbb\xbf{"type": "customer.registered"}',  # a BOM
        '"\ud800"',
    ],
)
def test_malformed_json(text: str | bytes) -> None:
    with pytest.raises(BadInput) as info:
        parse_event_json(text)
    assert info.value.field == "event"
    assert "not valid JSON" in info.value.message


def test_json_that_is_not_an_event_names_the_field() -> None:
    with pytest.raises(BadInput) as info:
        parse_event_json("[]")
    assert info.value.field == "event"
    text = orjson.dumps(event(cloud="azure"))
    with pytest.raises(BadInput) as info:
        parse_event_json(text)
    assert info.value.field == "data.cloud"
    assert "data.cloud" in info.value.message
