"""The ``Subscriptions`` port: terms with their latest consent, due terms, consents and compensations."""

from __future__ import annotations

import dataclasses

import pytest

from pledge.domain.compensation import CompensationItem, compensation_totals
from pledge.domain.offers import CompensationPolicy
from pledge.domain.subscriptions import AutoRenewConsent, Term, TermKind, TermState
from pledge.usecases.ports import UnitOfWork
from tests.contract.conftest import Store, account

DAY = 86_400_000_000
CONSENT = AutoRenewConsent(True, "A1", 5, "Renews at the list price; cancel any time.")


def _term(term_id: str, account_id: str = "A1", ends_at_us: int = 30 * DAY, **changes: object) -> Term:
    term = Term(term_id, account_id, "gold", 2_900, 7_200, "CNY", "Asia/Shanghai", 0, ends_at_us, 0, 0)
    return dataclasses.replace(term, **changes)


def _with_accounts(u: UnitOfWork) -> None:
    u.purchases.add_accounts([account("A1"), account("A2")], update=False)


def test_a_term_reads_back_with_its_consent(uow: UnitOfWork) -> None:
    _with_accounts(uow)
    term = _term("T1", auto_renew=True, consent=CONSENT, campaign_id="c1", terms_version=1)
    assert uow.subscriptions.add(term, 3, 10)
    assert not uow.subscriptions.add(dataclasses.replace(term, plan_id="other"), 3, 11)  # a retried purchase
    assert uow.subscriptions.get("T1") == term
    assert uow.subscriptions.get("T1", for_update=True) == term
    assert uow.subscriptions.get("T9") is None
    assert uow.subscriptions.consent_history("T1") == [
        {
            "auto_renew": True,
            "actor": "A1",
            "at_us": 5,
            "wording_version": "inherited",
            "wording": CONSENT.wording,
        }
    ]


def test_the_latest_consent_is_the_terms_consent(uow: UnitOfWork) -> None:
    _with_accounts(uow)
    uow.subscriptions.add(_term("T1", auto_renew=True, consent=CONSENT), 1, 10)
    off = AutoRenewConsent(False, "support", 7, "Auto-renew is off.")
    uow.subscriptions.record_consent("T1", off, "v2")
    uow.subscriptions.update(_term("T1", consent=off))
    assert uow.subscriptions.get("T1") == _term("T1", consent=off)
    assert [c["wording_version"] for c in uow.subscriptions.consent_history("T1")] == ["inherited", "v2"]
    assert uow.subscriptions.consent_history("T9") == []


def test_update_writes_every_column_but_the_key(uow: UnitOfWork) -> None:
    _with_accounts(uow)
    uow.subscriptions.add(_term("T1"), 1, 10)
    changed = _term(
        "T1",
        ends_at_us=40 * DAY,
        state=TermState.REFUNDED,
        refunded_minor=1_000,
        closed_at_us=9,
        compensated_days=3,
    )
    uow.subscriptions.update(changed)
    assert uow.subscriptions.get("T1") == changed
    uow.subscriptions.update(_term("T9"))  # touches no row
    assert uow.subscriptions.get("T9") is None


def test_pages_due_terms_and_campaign_terms(uow: UnitOfWork) -> None:
    _with_accounts(uow)
    terms = [
        _term("T3", ends_at_us=10 * DAY, campaign_id="c1", terms_version=1),
        _term("T1", ends_at_us=20 * DAY, campaign_id="c1", terms_version=2),
        _term("T2", "A2", ends_at_us=10 * DAY, campaign_id="c1"),
        _term("T4", ends_at_us=5 * DAY, state=TermState.LAPSED, closed_at_us=1),
        _term("T5", ends_at_us=40 * DAY, campaign_id="c1", terms_version=1, kind=TermKind.REPURCHASE),
    ]
    for term in terms:
        uow.subscriptions.add(term, 1, 10)
    subs = uow.subscriptions
    assert [t.id for t in subs.page(account_id=None, starting_after=None, limit=10)] == [
        "T1",
        "T2",
        "T3",
        "T4",
        "T5",
    ]
    assert [t.id for t in subs.page(account_id="A1", starting_after="T1", limit=2)] == ["T3", "T4"]
    assert [t.id for t in subs.due(20 * DAY, 10)] == ["T2", "T3", "T1"]  # active, by end then id
    assert [t.id for t in subs.due(20 * DAY, 1)] == ["T2"]
    assert [t.id for t in subs.active_ending_before(20 * DAY, "T1", 10)] == ["T2", "T3"]
    assert [t.id for t in subs.of_campaign("c1", 2, "", 10)] == ["T3"]  # first terms under older versions
    assert [t.id for t in subs.of_campaign("c1", 3, "T1", 10)] == ["T3"]
    assert subs.state_counts(None) == {"active": 4, "lapsed": 1}
    assert subs.state_counts("c1") == {"active": 4}


def test_the_constraints_refuse_a_bad_term(store: Store) -> None:
    with store.uow() as u:
        _with_accounts(u)
        u.subscriptions.add(_term("T1"), 1, 10)
        u.subscriptions.add(_term("T2", previous_term_id="T1", kind=TermKind.RENEWAL), 1, 10)
        u.commit()
    with store.uow() as u, pytest.raises(store.refused):  # foreign key: the account
        u.subscriptions.add(_term("T3", "A9"), 1, 10)
    with store.uow() as u, pytest.raises(store.refused):  # a renewal chain never forks
        u.subscriptions.add(_term("T3", previous_term_id="T1", kind=TermKind.RENEWAL), 1, 10)
    with store.uow() as u, pytest.raises(store.refused):  # a consent belongs to a term
        u.subscriptions.record_consent("T9", CONSENT, "v1")


def _compensation(term_id: str, extra_days: int = 10, **changes: object) -> CompensationItem:
    item = CompensationItem(
        term_id, "A1", "gold", "c1", 1, 2, CompensationPolicy.RATE_PARITY, extra_days,
        30 * DAY, (30 + extra_days) * DAY, 2_900, 2_500, 365, 365, "CNY", "Asia/Shanghai",
    )  # fmt: skip
    return dataclasses.replace(item, **changes)


def test_compensations_are_recorded_once_per_term_and_totalled_per_plan(store: Store) -> None:
    with store.uow() as u:
        _with_accounts(u)
        for term_id in ("T1", "T2", "T3"):
            u.subscriptions.add(_term(term_id, campaign_id="c1", terms_version=1), 1, 10)
        u.subscriptions.record_compensation(_compensation("T1", 10), "bob", "ann", 20)
        u.subscriptions.record_compensation(_compensation("T2", 4), "bob", "ann", 20)
        u.subscriptions.update(_term("T1", campaign_id="c1", terms_version=1, compensated_days=10))
        u.subscriptions.update(_term("T2", campaign_id="c1", terms_version=1, compensated_days=1))
        u.commit()
    with store.uow() as u:
        [totals] = compensation_totals(u.subscriptions.compensation_rows("c1"))
        assert {k: totals[k] for k in ("plan", "terms", "days", "days_returned", "currency")} == {
            "plan": "gold",
            "terms": 2,
            "days": 11,
            "days_returned": 3,
            "currency": "CNY",
        }
        assert u.subscriptions.compensation_rows("c9") == []
    with store.uow() as u, pytest.raises(store.refused):  # never twice
        u.subscriptions.record_compensation(_compensation("T1", 1), "bob", "ann", 30)
    with store.uow() as u, pytest.raises(store.refused):  # foreign key: the term
        u.subscriptions.record_compensation(_compensation("T9"), "bob", "ann", 30)
    with store.uow() as u, pytest.raises(store.refused):  # never shortens
        u.subscriptions.record_compensation(_compensation("T3", 0, new_ends_at_us=DAY), "bob", "ann", 30)
