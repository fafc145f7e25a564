"""The narration (``ledger/_narration.py``): every event type has its sentence, a type without
one is refused rather than shown bare, and every purchase channel has its name."""

from __future__ import annotations

import pytest

from ledger import EVENT_TYPES, narration
from ledger._events import CHANNELS

from builders import (
    accept,
    cancel,
    customer,
    extend,
    gdap_request,
    grant,
    partner,
    program_changed,
    purchase,
    remove,
    request,
    revoke,
    switch,
)


class _Known:
    """A directory that knows one of each thing the sentences look up."""

    customer = "Contoso Ltd"

    def partner(self, partner_id: str) -> str:
        return partner_id.title()

    def subscription(self, subscription_id: str) -> tuple[str, str | None] | None:
        return ("Office 365 E3", "fabrikam") if subscription_id == "o365-1" else None

    def inviter(self, request_id: str) -> str | None:
        return "fabrikam" if request_id == "r-1" else None

    def delegation(self, delegation_id: str) -> tuple[str, str] | None:
        return ("fabrikam", "gdap") if delegation_id == "d-1" else None


ONE_OF_EACH = [
    partner("litware", program="csp-indirect-reseller", providers=["adatum"]),
    program_changed("litware", "csp-direct", at="2019-01-01T00:00:00Z"),
    customer("contoso"),
    purchase("o365-1", "contoso", service="license", reseller="litware", seller="adatum"),
    switch("o365-1", "fabrikam", "adatum", at="2019-05-01T00:00:00Z", to_reseller="litware"),
    cancel("o365-1", at="2019-06-01T00:00:00Z"),
    request("r-1", "adatum", "contoso", reseller="litware"),
    accept("r-1", "contoso"),
    remove("fabrikam", "contoso", at="2019-07-01T00:00:00Z"),
    gdap_request(
        "d-1",
        "contoso",
        "fabrikam",
        roles=["62e90394-69f5-4237-9190-012177145e10", "Exchange Recipient Administrator"],
        duration="P2Y",
        name="Fabrikam support",
    ),
    grant("d-1", "contoso", "fabrikam", kind="gdap", expires="2020-01-01T00:00:00Z"),
    extend("d-1", "2020-01-01T00:00:00Z", "2020-06-29T00:00:00Z"),
    revoke("d-1", "contoso", at="2019-08-01T00:00:00Z"),
]

TOLD = {
    "partner.registered": "Litware (litware) was registered as a csp-indirect-reseller partner in the "
    "commercial cloud, reselling through Adatum.",
    "partner.program-changed": "Litware changed its program to csp-direct.",
    "customer.registered": "Contoso (contoso) was registered as a customer in the commercial cloud.",
    "subscription.purchased": "Adatum sold Contoso Ltd Office 365 E3 (o365-1, licence-based, term ends "
    "2020-03-01) through CSP, with Litware as reseller and partner of record.",
    "subscription.switched": "o365-1 was switched from Fabrikam to Litware (via Adatum).",
    "subscription.cancelled": "Office 365 E3 (o365-1) was cancelled; its last partner of record, Fabrikam, "
    "stays on record.",
    "relationship.requested": "Adatum invited Contoso Ltd into a reseller relationship on behalf of its "
    "reseller Litware (invitation r-1).",
    "relationship.accepted": "Contoso Ltd accepted Fabrikam's invitation (r-1): the reseller relationship "
    "begins.",
    "relationship.removed": "The reseller relationship between Fabrikam and Contoso Ltd was removed.",
    "delegation.granted": "Contoso Ltd granted Fabrikam GDAP delegated admin rights (admin-agent), until "
    "2020-01-01 (d-1).",
    "delegation.requested": "Fabrikam asked Contoso Ltd for GDAP \u201cFabrikam support\u201d (Global "
    "Administrator, Exchange Recipient Administrator) for P2Y from approval (d-1).",
    "delegation.extended": "Microsoft auto-extended Fabrikam's GDAP with Contoso Ltd by 180 days, until "
    "2020-06-29 (d-1).",
    "delegation.revoked": "Contoso Ltd revoked Fabrikam's GDAP (d-1).",
}


def test_every_event_type_has_a_sentence() -> None:
    assert set(narration.SENTENCES) == set(EVENT_TYPES)
    assert {e.type for e in ONE_OF_EACH} == set(EVENT_TYPES) == set(TOLD)
    for event in ONE_OF_EACH:
        assert narration.sentence(event.to_json(), _Known()) == TOLD[event.type]


def test_an_unknown_type_is_refused_not_shown_bare() -> None:
    with pytest.raises(LookupError, match=r"partner\.merged"):
        narration.sentence({"type": "partner.merged", "data": {}}, _Known())


def test_every_channel_has_a_name() -> None:
    assert set(narration.CHANNEL_NAMES) == set(CHANNELS)
    assert narration.channel_name("ea") == "Enterprise Agreement"
    with pytest.raises(KeyError):
        narration.channel_name("barter")


@pytest.mark.parametrize(
    ("role", "told"),
    [
        ("microsoft", "Microsoft removed Fabrikam's GDAP of Contoso Ltd (d-1)."),
        ("admin-agent", "Fabrikam ended its GDAP with Contoso Ltd (d-1)."),
        ("global-admin", "Fabrikam ended its GDAP with Contoso Ltd (d-1)."),
        ("customer-delegated-admin-relationship-admin", "Contoso Ltd revoked Fabrikam's GDAP (d-1)."),
    ],
)
def test_a_revocation_is_told_as_who_ended_it(role: str, told: str) -> None:
    event = revoke("d-1", "contoso", "2019-07-01T00:00:00Z").to_json()
    event["actor"]["role"] = role
    assert narration.sentence(event, _Known()) == told
