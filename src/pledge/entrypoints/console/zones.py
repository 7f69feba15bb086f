"""Which zone a page shows its times in, always named on the page.

Campaign pages use the campaign's zone (its windows are local dates there). Customer pages use
the customer's zone when the account says it — a region with one zone, such as CN (Beijing time) —
else the zone of the campaign in view, else UTC.
"""

from __future__ import annotations

from typing import Final

from pledge.domain.errors import PledgeError
from pledge.domain.records import AccountRecord
from pledge.usecases.insights import campaign_detail
from pledge.usecases.ports import UnitOfWorkFactory

UTC: Final = "UTC"
# Regions whose whole territory keeps one civil time (IANA zone.tab lists one zone for each).
SINGLE_ZONE_REGIONS: Final = {
    "CN": "Asia/Shanghai",
    "HK": "Asia/Hong_Kong",
    "MO": "Asia/Macau",
    "TW": "Asia/Taipei",
    "JP": "Asia/Tokyo",
    "KR": "Asia/Seoul",
    "SG": "Asia/Singapore",
    "IN": "Asia/Kolkata",
    "GB": "Europe/London",
    "FR": "Europe/Paris",
    "IT": "Europe/Rome",
    "NL": "Europe/Amsterdam",
}


def campaign_zone(uow_factory: UnitOfWorkFactory, campaign_id: str | None) -> str | None:
    """The zone of the campaign's latest terms, or None (no such campaign)."""
    if not campaign_id:
        return None
    try:
        versions = campaign_detail(uow_factory, campaign_id).versions
    except PledgeError:
        return None
    zone = versions[-1].document.get("timezone") if versions else None
    return str(zone) if zone else None


def customer_zone(account: AccountRecord | None, campaign_tz: str | None) -> str:
    if account is not None and account.region in SINGLE_ZONE_REGIONS:
        return SINGLE_ZONE_REGIONS[account.region]
    return campaign_tz or UTC
