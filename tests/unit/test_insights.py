"""The console's read-only campaign views on the memory fakes: the list and one campaign's history."""

from __future__ import annotations

from pledge.domain.campaign import CampaignState
from pledge.entrypoints.explain_json import campaign_detail_json, campaign_summary_json
from pledge.entrypoints.report_json import report_json
from pledge.usecases.insights import campaign_detail, list_campaigns
from tests.unit.test_usecases import CID, World, launch, world  # noqa: F401 - world is a fixture


def test_the_list_shows_each_campaign_with_its_name_and_money(world: World) -> None:  # noqa: F811 - the fixture
    assert list_campaigns(world.uow) == []
    launch(world)
    [row] = list_campaigns(world.uow)
    assert (row.id, row.kind, row.report.state) == (CID, "cashback", "active")
    assert row.name
    assert campaign_summary_json(row) == {**report_json(row.report), "kind": "cashback", "name": row.name}


def test_the_detail_shows_every_version_approval_and_event(world: World) -> None:  # noqa: F811 - the fixture
    launch(world)
    detail = campaign_detail(world.uow, CID)
    assert (detail.id, detail.state, detail.launched) == (CID, CampaignState.ACTIVE, True)
    [version] = detail.versions
    assert (version.version, version.author, version.approved_by) == (1, "ops", "finance")
    assert version.approved and version.approved_at_us and version.document["id"] == CID
    assert [e.kind for e in detail.events][:1] == ["terms_applied"]
    shown = campaign_detail_json(detail)
    assert (shown["id"], shown["state"], shown["launched"]) == (CID, "active", True)
    [version_json] = shown["versions"]
    assert version_json["approved_by"] == "finance" and version_json["approved_at"]
    assert version_json["created_at"] and shown["events"][0]["at"]
