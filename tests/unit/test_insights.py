"""The console's read-only campaign views on the memory fakes: the list and one campaign's history."""

from __future__ import annotations

from pledge.usecases.insights import campaign_detail, list_campaigns
from tests.unit.test_usecases import CID, World, launch, world  # noqa: F401 - world is a fixture


def test_the_list_shows_each_campaign_with_its_name_and_money(world: World) -> None:  # noqa: F811 - the fixture
    assert list_campaigns(world.uow) == []
    launch(world)
    [row] = list_campaigns(world.uow)
    assert (row["id"], row["kind"], row["state"]) == (CID, "cashback", "active")
    assert row["name"]


def test_the_detail_shows_every_version_approval_and_event(world: World) -> None:  # noqa: F811 - the fixture
    launch(world)
    detail = campaign_detail(world.uow, CID)
    assert (detail["id"], detail["state"], detail["launched"]) == (CID, "active", True)
    [version] = detail["versions"]
    assert (version["version"], version["author"], version["approved_by"]) == (1, "ops", "finance")
    assert version["approved"] and version["approved_at"] and version["document"]["id"] == CID
    assert [e["kind"] for e in detail["events"]][:1] == ["terms_applied"]
