"""pc-resellers: an indirect provider's resellers as ``partner.registered``, and the reseller
map (MPN id to tenant) that subscriptions' ``partnerId`` needs.

Source: Partner Center REST ``GET /v1/relationships?relationship_type=
IsIndirectCloudSolutionProviderOf``; "Relationships resources"
(learn.microsoft.com/partner-center/developer/relationships-resources: PartnerRelationship
``id`` (the reseller's tenant), ``name``, ``relationshipType``
(``IsIndirectCloudSolutionProviderOf``, ``IsIndirectResellerOf``), ``state``, ``mpnId``,
``location``); the PowerShell module's ``PSPartnerRelationship.cs`` (``PartnerId`` for
``id``; ``Get-PartnerIndirectReseller``).

Each reseller is registered as ``csp-indirect-reseller`` under the ingesting provider
(``provider_ids`` [the provider]); its note says ``mpnId NNNN`` so the engine can rebuild the
reseller map from the log. Seen from a reseller's side (``IsIndirectResellerOf``) the record
names its provider, registered as ``csp-indirect-provider``.
"""

from __future__ import annotations

from collections.abc import Iterator

from ._common import Outcome, each_record, lower, norm_id, partner_registered, text
from ._model import Context, Record, Skip


def _map(record: Record, context: Context) -> Iterator[Outcome]:
    data = record.data
    tenant = norm_id(record.source_id)
    kind = text(data, "relationshipType") or ""
    mpn = text(data, "mpnId")
    state = text(data, "state")
    why = [f"mpnId {mpn}" if mpn else "no mpnId", f"relationshipType {kind}", f"state {state or 'absent'}"]
    if lower(kind) == "isindirectcloudsolutionproviderof":
        yield partner_registered(
            record,
            context,
            tenant,
            text(data, "name"),
            "csp-indirect-reseller",
            [*why, f"provider_ids [{context.partner_id}] (the ingesting partner)"],
            provider_ids=(context.partner_id,),
        )
    elif lower(kind) == "isindirectresellerof":
        yield partner_registered(record, context, tenant, text(data, "name"), "csp-indirect-provider", why)
    else:
        yield Skip(
            record.source,
            record.source_id,
            f"relationshipType {kind or 'absent'!s} is not an indirect provider/reseller relationship",
        )


def reseller_map(records: list[Record]) -> dict[str, str]:
    """MPN id to reseller tenant, from pc-resellers records (the engine's ``Context.resellers``)."""
    out: dict[str, str] = {}
    for record in records:
        mpn = text(record.data, "mpnId")
        if mpn and lower(text(record.data, "relationshipType") or "") == "isindirectcloudsolutionproviderof":
            out[mpn] = norm_id(record.source_id)
    return out


map_pc_resellers = each_record(_map)
