"""The ``Campaigns`` port: records, terms versions with four-eyes approval, and the campaign's events."""

from __future__ import annotations

import dataclasses

import pytest

from pledge.domain.campaign import CampaignState, TermsVersion
from pledge.domain.errors import ConflictError
from pledge.usecases.ports import UnitOfWork
from tests.contract.conftest import Store, campaign

DOCUMENT = {"id": "c1", "kind": "cashback", "名": "返现", "amount": {"fixed": "5.00"}}


def _version(version: int = 1, content_hash: str = "h1", author: str = "ann") -> TermsVersion:
    return TermsVersion("c1", version, content_hash, DOCUMENT, author, 2_000)


def test_records_read_back_and_all_is_by_id(uow: UnitOfWork) -> None:
    for campaign_id in ("c2", "c1", "c3"):
        uow.campaigns.add(campaign(campaign_id, group="g1"))
    assert uow.campaigns.get("c1") == campaign("c1", group="g1")
    assert uow.campaigns.get("c1", for_update=True) == campaign("c1", group="g1")
    assert uow.campaigns.get("nobody") is None
    assert [c.campaign_id for c in uow.campaigns.all()] == ["c1", "c2", "c3"]


def test_state_group_and_issue_seq_change_in_place(uow: UnitOfWork) -> None:
    uow.campaigns.add(campaign("c1"))
    uow.campaigns.set_state("c1", CampaignState.ACTIVE)
    uow.campaigns.set_group("c1", "spring")
    uow.campaigns.lock_group("spring")
    assert uow.campaigns.bump_issue_seq("c1", 0)
    assert not uow.campaigns.bump_issue_seq("c1", 0)  # someone else's run got there first
    assert not uow.campaigns.bump_issue_seq("nobody", 0)
    assert uow.campaigns.get("c1") == dataclasses.replace(
        campaign("c1"), state=CampaignState.ACTIVE, promise_group="spring", issue_seq=1
    )
    uow.campaigns.set_state("nobody", CampaignState.ACTIVE)  # touches no row
    assert uow.campaigns.get("nobody") is None


def test_a_campaign_id_is_taken_once(store: Store) -> None:
    with store.uow() as u:
        u.campaigns.add(campaign("c1"))
        u.commit()
    with store.uow() as u, pytest.raises(store.refused):
        u.campaigns.add(campaign("c1", currency="EUR"))


def test_versions_read_back_in_order_without_an_approval(uow: UnitOfWork) -> None:
    uow.campaigns.add(campaign("c1"))
    approved_already = dataclasses.replace(_version(2, "h2"), approved_by="bob", approved_hash="h2")
    uow.campaigns.add_version(approved_already)  # only the version is added, never an approval
    uow.campaigns.add_version(_version(1, "h1"))
    versions = uow.campaigns.versions("c1")
    assert versions == [_version(1, "h1"), _version(2, "h2")]
    assert uow.campaigns.versions("nobody") == []
    versions[0].document["id"] = "edited"  # the document a caller got is its own
    assert uow.campaigns.versions("c1")[0].document == DOCUMENT


def test_a_campaign_with_its_versions_in_one_read(uow: UnitOfWork) -> None:
    """``with_versions`` answers as ``get`` and ``versions`` would: none, no versions yet, several."""
    assert uow.campaigns.with_versions("c1") == (None, [])
    uow.campaigns.add(campaign("c1"))
    assert uow.campaigns.with_versions("c1") == (campaign("c1"), [])
    uow.campaigns.add_version(_version(2, "h2"))
    uow.campaigns.add_version(_version(1, "h1"))
    uow.campaigns.approve("c1", 1, "bob", 3_000, "h1")
    assert uow.campaigns.with_versions("c1") == (uow.campaigns.get("c1"), uow.campaigns.versions("c1"))
    assert [v.version for v in uow.campaigns.with_versions("c1")[1]] == [1, 2]


@pytest.mark.parametrize(
    "version",
    [
        _version(1, "other"),
        _version(2, "h1"),
        _version(0, "h0"),
        dataclasses.replace(_version(), campaign_id="c9"),
    ],
    ids=["same-number", "same-content", "not-positive", "unknown-campaign"],
)
def test_the_constraints_refuse_a_bad_version(store: Store, version: TermsVersion) -> None:
    with store.uow() as u:
        u.campaigns.add(campaign("c1"))
        u.campaigns.add_version(_version(1, "h1"))
        u.commit()
    with store.uow() as u, pytest.raises(store.refused):
        u.campaigns.add_version(version)


def test_approve_records_who_approved_which_content(uow: UnitOfWork) -> None:
    uow.campaigns.add(campaign("c1"))
    uow.campaigns.add_version(_version())
    uow.campaigns.approve("c1", 1, "bob", 3_000, "h1")
    [approved] = uow.campaigns.versions("c1")
    assert (approved.approved_by, approved.approved_at_us, approved.approved_hash) == ("bob", 3_000, "h1")
    assert approved.approved


@pytest.mark.parametrize(
    ("version", "content_hash"), [(1, "changed"), (2, "h1")], ids=["other-content", "no-such-version"]
)
def test_approve_refuses_content_it_was_not_shown(uow: UnitOfWork, version: int, content_hash: str) -> None:
    uow.campaigns.add(campaign("c1"))
    uow.campaigns.add_version(_version())
    with pytest.raises(ConflictError):
        uow.campaigns.approve("c1", version, "bob", 3_000, content_hash)


def test_a_version_is_approved_once(uow: UnitOfWork) -> None:
    uow.campaigns.add(campaign("c1"))
    uow.campaigns.add_version(_version())
    uow.campaigns.approve("c1", 1, "bob", 3_000, "h1")
    with pytest.raises(ConflictError):
        uow.campaigns.approve("c1", 1, "carol", 4_000, "h1")
    assert uow.campaigns.versions("c1")[0].approved_by == "bob"


def test_the_author_cannot_approve_their_own_version(store: Store) -> None:
    with store.uow() as u:
        u.campaigns.add(campaign("c1"))
        u.campaigns.add_version(_version(author="ann"))
        u.commit()
    with store.uow() as u, pytest.raises(store.refused):  # four eyes, held by the store itself
        u.campaigns.approve("c1", 1, "ann", 3_000, "h1")


def test_events_read_back_in_the_order_recorded(uow: UnitOfWork) -> None:
    uow.campaigns.add(campaign("c1"))
    uow.campaigns.add(campaign("c2"))
    uow.campaigns.record_event("c1", "launched", "ann", 20, {"by": "ann", "n": 2})
    uow.campaigns.record_event("c2", "paused", "bob", 5, {})
    uow.campaigns.record_event("c1", "applied", "bob", 10, {"版本": 1})
    assert uow.campaigns.events("c1") == [
        {"kind": "launched", "actor": "ann", "at_us": 20, "detail": {"by": "ann", "n": 2}},
        {"kind": "applied", "actor": "bob", "at_us": 10, "detail": {"版本": 1}},
    ]
    assert uow.campaigns.events("nobody") == []


def test_an_event_needs_its_campaign(store: Store) -> None:
    with store.uow() as u, pytest.raises(store.refused):
        u.campaigns.record_event("nobody", "launched", "ann", 1, {})
