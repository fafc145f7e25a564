"""The rulebook's editions (issue 14): each changed rule at both sides of its boundary date and
cloud, on both stores (the ``ledger`` fixture); each refused case names its rule and edition.

- ``license-switch-needs-term-end``: a csp licence is transferable from 2020-03-20, in every
  cloud but china;
- ``indirect-reseller-cannot-invite``: an indirect reseller creates its own invitation (for one
  of its providers) from 2021-01-27, in every cloud but china;
- ``cloud-closed``: nothing new in germany from 2021-10-29.
"""

from __future__ import annotations

import pytest
from test_rules import assert_rejected, record_all, record_ok, subscription, us, view

from ledger import Event, Ledger, parse_event, read

from builders import (
    accept,
    cancel,
    customer,
    gdap_request,
    grant,
    partner,
    purchase,
    remove,
    request,
    revoke,
    switch,
)

NOT_CHINA = ("commercial", "us-gov", "germany")


def _by(event: Event, tenant: str) -> Event:
    """``event`` recorded by ``tenant``'s staff."""
    body = event.to_json()
    body["actor"]["tenant_id"] = tenant
    body["actor"]["id"] = f"ops@{tenant}.example"
    return parse_event(body)


# --- license-switch-needs-term-end ---------------------------------------------------


def licence_world(ledger: Ledger, cloud: str, channel: str = "csp") -> None:
    """In ``cloud``: contoso bought licence sub-l (term end 2026) from fabrikam through
    ``channel``; it accepted northwind's invitation; adatum it never accepted."""
    record_all(
        ledger,
        partner("fabrikam", cloud=cloud, at="2018-01-01T00:00:00Z"),
        partner("northwind", cloud=cloud, at="2018-01-01T00:00:00Z"),
        partner("adatum", cloud=cloud, at="2018-01-01T00:00:00Z"),
        customer("contoso", cloud=cloud, at="2018-01-01T00:00:00Z"),
        request("r-n", "northwind", "contoso", at="2018-02-01T00:00:00Z"),
        accept("r-n", "contoso", at="2018-02-02T00:00:00Z"),
        purchase(
            "sub-l",
            "contoso",
            "2018-03-01T00:00:00Z",
            service="license",
            channel=channel,
            seller="fabrikam",
            term_end="2026-03-01T00:00:00Z",
        ),
    )


@pytest.mark.parametrize("cloud", NOT_CHINA)
def test_a_csp_licence_is_transferred_between_partners_from_2020_03_20(ledger: Ledger, cloud: str) -> None:
    licence_world(ledger, cloud)
    record_ok(ledger, switch("sub-l", "fabrikam", "northwind", "2020-03-20T00:00:00Z"))
    moved = subscription(ledger, "sub-l")
    assert moved is not None
    assert (moved.partner_of_record, moved.billing_partner) == ("northwind", "northwind")
    answer = read.por(ledger, "sub-l", us("2021-01-01T00:00:00Z"))
    assert (answer["partner_of_record"], answer["term_end"]) == ("northwind", "2026-03-01T00:00:00Z")


@pytest.mark.parametrize("cloud", NOT_CHINA)
def test_a_csp_licence_is_not_switched_the_instant_before(ledger: Ledger, cloud: str) -> None:
    licence_world(ledger, cloud)
    event = switch("sub-l", "fabrikam", "northwind", "2020-03-19T23:59:59.999999Z")
    violation = assert_rejected(ledger, event, "license-switch-needs-term-end")
    assert violation.edition == "seeds"
    assert violation.to_json()["error"]["edition"] == "seeds"


@pytest.mark.parametrize("at", ["2020-03-19T00:00:00Z", "2020-03-20T00:00:00Z", "2024-06-01T00:00:00Z"])
def test_in_china_a_licence_still_waits_for_its_term_end(ledger: Ledger, at: str) -> None:
    licence_world(ledger, "china")
    violation = assert_rejected(
        ledger, switch("sub-l", "fabrikam", "northwind", at), "license-switch-needs-term-end"
    )
    assert violation.edition == "seeds"


@pytest.mark.parametrize("channel", ["open", "ea", "third-party", "microsoft"])
def test_a_licence_from_another_channel_still_cannot_be_switched(ledger: Ledger, channel: str) -> None:
    licence_world(ledger, "commercial", channel=channel)
    event = switch("sub-l", "fabrikam", "northwind", "2021-01-01T00:00:00Z")
    violation = assert_rejected(ledger, event, "license-switch-needs-term-end")
    assert violation.edition == "2020-03-20"
    assert f"bought through {channel}, not csp" in violation.message
    assert violation.to_json()["error"]["edition"] == "2020-03-20"


@pytest.mark.parametrize(
    ("frm", "to"),
    [("northwind", "adatum"), ("fabrikam", "adatum"), ("fabrikam", "fabrikam")],
    ids=["not-its-partner-of-record", "no-accepted-relationship", "already-its-partner-of-record"],
)
def test_a_csp_licence_transfer_passes_the_azure_checks(ledger: Ledger, frm: str, to: str) -> None:
    licence_world(ledger, "commercial")
    event = switch("sub-l", frm, to, "2021-01-01T00:00:00Z")
    assert_rejected(ledger, event, "azure-switch-between-csp-partners")


# --- indirect-reseller-cannot-invite -------------------------------------------------


def reseller_world(ledger: Ledger, cloud: str) -> None:
    """In ``cloud``: indirect providers tailwind and wingtip; lucerne, an indirect reseller
    under tailwind only; fabrikam, a direct partner; customer contoso."""
    record_all(
        ledger,
        partner("tailwind", program="csp-indirect-provider", cloud=cloud, at="2018-01-01T00:00:00Z"),
        partner("wingtip", program="csp-indirect-provider", cloud=cloud, at="2018-01-01T00:00:00Z"),
        partner(
            "lucerne",
            program="csp-indirect-reseller",
            cloud=cloud,
            at="2018-01-01T00:00:00Z",
            providers=["tailwind"],
        ),
        partner("fabrikam", cloud=cloud, at="2018-01-01T00:00:00Z"),
        customer("contoso", cloud=cloud, at="2018-01-01T00:00:00Z"),
    )


def resellers_own(at: str, partner_id: str = "tailwind", reseller: str | None = "lucerne") -> Event:
    """An invitation recorded by lucerne's own staff."""
    return _by(request("r-1", partner_id, "contoso", at, reseller=reseller), "lucerne")


@pytest.mark.parametrize("cloud", NOT_CHINA)
def test_an_indirect_reseller_invites_for_its_provider_from_2021_01_27(ledger: Ledger, cloud: str) -> None:
    reseller_world(ledger, cloud)
    record_ok(ledger, resellers_own("2021-01-27T00:00:00Z"))
    record_ok(ledger, accept("r-1", "contoso", "2021-01-28T00:00:00Z"))
    [rel] = view(ledger, lambda v: v.relationships("contoso", us("2021-02-01T00:00:00Z")))
    assert (rel.partner_id, rel.reseller_id) == ("tailwind", "lucerne")  # the provider owns it


@pytest.mark.parametrize("cloud", NOT_CHINA)
def test_an_indirect_resellers_own_invitation_is_refused_the_instant_before(
    ledger: Ledger, cloud: str
) -> None:
    reseller_world(ledger, cloud)
    violation = assert_rejected(
        ledger, resellers_own("2021-01-26T23:59:59Z"), "indirect-reseller-cannot-invite"
    )
    assert violation.edition == "seeds"
    assert "lucerne is an indirect reseller: its own staff cannot create an invitation" in violation.message


@pytest.mark.parametrize("at", ["2021-01-26T00:00:00Z", "2021-01-27T00:00:00Z", "2024-06-01T00:00:00Z"])
def test_in_china_an_indirect_reseller_never_invites(ledger: Ledger, at: str) -> None:
    reseller_world(ledger, "china")
    violation = assert_rejected(ledger, resellers_own(at), "indirect-reseller-cannot-invite")
    assert violation.edition == "seeds"
    assert violation.to_json()["error"]["edition"] == "seeds"


@pytest.mark.parametrize("cloud", ["commercial", "china"])
def test_the_provider_invites_on_behalf_of_its_reseller_in_every_edition(ledger: Ledger, cloud: str) -> None:
    reseller_world(ledger, cloud)
    record_ok(ledger, request("r-1", "tailwind", "contoso", "2024-06-01T00:00:00Z", reseller="lucerne"))


@pytest.mark.parametrize(
    ("partner_id", "reseller"),
    [
        ("tailwind", None),
        ("tailwind", "fabrikam"),
        ("wingtip", "lucerne"),
        ("fabrikam", None),
        ("lucerne", None),
    ],
    ids=[
        "without-naming-itself",
        "naming-another-as-reseller",
        "for-a-provider-it-does-not-work-under",
        "for-a-direct-partner",
        "as-the-partner-itself",
    ],
)
def test_an_indirect_reseller_invites_only_for_its_provider_naming_itself(
    ledger: Ledger, partner_id: str, reseller: str | None
) -> None:
    reseller_world(ledger, "commercial")
    event = resellers_own("2021-06-01T00:00:00Z", partner_id, reseller)
    violation = assert_rejected(ledger, event, "indirect-reseller-cannot-invite")
    assert violation.edition == "2021-01-27"


def test_others_still_cannot_invite_in_the_2021_edition(ledger: Ledger) -> None:
    reseller_world(ledger, "commercial")
    record_all(ledger, partner("litware", program="advisor", at="2018-01-01T00:00:00Z"))
    event = request("r-1", "litware", "contoso", "2021-06-01T00:00:00Z")
    violation = assert_rejected(ledger, event, "indirect-reseller-cannot-invite")
    assert violation.edition == "2021-01-27"


# --- cloud-closed --------------------------------------------------------------------

CLOSED = "2021-10-29T00:00:00Z"
BEFORE_CLOSED = "2021-10-28T23:59:59Z"


def germany_world(ledger: Ledger, cloud: str = "germany") -> None:
    """In ``cloud``: fabrikam (direct) and contoso, related since 2019."""
    record_all(
        ledger,
        partner("fabrikam", cloud=cloud),
        partner("northwind", cloud=cloud),
        customer("contoso", cloud=cloud),
        request("r-f", "fabrikam", "contoso"),
        accept("r-f", "contoso"),
        gdap_request("d-1", "contoso", "fabrikam", "2021-10-01T00:00:00Z", duration="P6M"),
    )


def six_months_on(at: str) -> str:
    """``at`` (in October) plus P6M, as the GDAP request of ``germany_world`` asks."""
    return f"{int(at[:4]) + 1}-04{at[7:]}"


CLOSED_EVENTS = {
    "customer.registered": lambda at, cloud: customer("adventure", cloud=cloud, at=at),
    "subscription.purchased": lambda at, cloud: purchase("sub-1", "contoso", at),
    "relationship.requested": lambda at, cloud: request("r-n", "northwind", "contoso", at),
    "delegation.requested": lambda at, cloud: gdap_request("d-2", "contoso", "northwind", at, duration="P1Y"),
    "delegation.granted": lambda at, cloud: grant(
        "d-1", "contoso", "fabrikam", at, kind="gdap", expires=six_months_on(at)
    ),
}


@pytest.mark.parametrize("event_type", sorted(CLOSED_EVENTS))
def test_nothing_new_in_germany_from_2021_10_29(ledger: Ledger, event_type: str) -> None:
    germany_world(ledger)
    violation = assert_rejected(ledger, CLOSED_EVENTS[event_type](CLOSED, "germany"), "cloud-closed")
    assert violation.edition == "2021-10-29"
    assert violation.to_json()["error"]["edition"] == "2021-10-29"
    assert "Microsoft Cloud Deutschland closed on 2021-10-29" in violation.message


@pytest.mark.parametrize("event_type", sorted(CLOSED_EVENTS))
def test_germany_takes_it_the_instant_before(ledger: Ledger, event_type: str) -> None:
    germany_world(ledger)
    record_ok(ledger, CLOSED_EVENTS[event_type](BEFORE_CLOSED, "germany"))


@pytest.mark.parametrize("event_type", sorted(CLOSED_EVENTS))
def test_other_clouds_stay_open(ledger: Ledger, event_type: str) -> None:
    germany_world(ledger, "commercial")
    record_ok(ledger, CLOSED_EVENTS[event_type](CLOSED, "commercial"))


def test_what_existed_in_germany_stays_on_record_and_may_end(ledger: Ledger) -> None:
    germany_world(ledger)
    record_all(
        ledger,
        purchase("sub-1", "contoso", BEFORE_CLOSED),
        grant("d-1", "contoso", "fabrikam", BEFORE_CLOSED, kind="gdap", expires=six_months_on(BEFORE_CLOSED)),
    )
    later = "2022-01-01T00:00:00Z"
    assert subscription(ledger, "sub-1", later) is not None
    assert view(ledger, lambda v: v.delegation("d-1", us(later))) is not None
    record_ok(ledger, revoke("d-1", "contoso", later))
    record_ok(ledger, cancel("sub-1", later))
    record_ok(ledger, remove("fabrikam", "contoso", later))
