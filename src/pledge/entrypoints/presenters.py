"""Use-case results as JSON, where the CLI and the API show them alike (CONTRACT.md, docs/openapi.json).

Each entry point family adds its own framing (the API's ``"object"``); the console has
``entrypoints/console/presenters.py``. Adapters never import a presenter.

``json_view`` finds the presenter for a typed result, so a command can hand the result itself
to ``emit`` (``--json`` and the human line both read the same JSON view).
"""

from __future__ import annotations

from functools import singledispatch
from typing import Any
from zoneinfo import ZoneInfo

from pledge.domain.corrections import ClawbackCase
from pledge.domain.grant import Grant
from pledge.domain.money import format_minor
from pledge.domain.timeutil import format_instant, zone
from pledge.entrypoints.campaign_json import applied_json, approval_json, launched_json, state_change_json
from pledge.entrypoints.report_json import report_json
from pledge.usecases.campaigns import AppliedTerms, ApprovedTerms, LaunchedCampaign, StateChange
from pledge.usecases.common import Page
from pledge.usecases.compensate import CompensationRun, item_json
from pledge.usecases.corrections import clawback_json
from pledge.usecases.grants import ExpiryRun, grant_json
from pledge.usecases.import_data import ImportResult
from pledge.usecases.ledger_verify import CampaignBooks, LedgerCheck
from pledge.usecases.quotes import AccountQuote
from pledge.usecases.report import CampaignReport
from pledge.usecases.run_outcome import RunOutcome
from pledge.usecases.simulation import NearMiss, Problem, Simulation, Widening
from pledge.usecases.subscriptions import RenewalRun


def quote_json(result: AccountQuote) -> dict[str, Any]:
    """``pledge quote --json`` and ``GET /v1/quotes`` (with ``"object": "quote"`` first)."""
    q = result.quote
    tz = zone(q.timezone)
    return {
        "account_id": result.account_id,
        "plan": q.plan_id,
        "price": format_minor(q.price_minor, q.currency),
        "list_price": format_minor(q.list_price_minor, q.currency),
        "currency": q.currency,
        "starts_at": format_instant(q.starts_at_us, tz),
        "ends_at": format_instant(q.ends_at_us, tz),
        "first_term": str(q.first_term),
        "campaign": q.campaign_id,
        "terms_version": q.terms_version,
        "offer": q.offer_type.value if q.offer_type else None,
        "renewal_price": format_minor(q.renewal_price_minor, q.currency),
        "renewal_period": str(q.renewal_period),
        "auto_renew": False,
        "breakdown": q.breakdown,
    }


def compensation_json(run: CompensationRun) -> dict[str, Any]:
    """``pledge campaign compensate --json`` and the compensation run of the API (with its ``object``).

    Each item as the ``compensation.applied`` webhook event shows it (``item_json``).
    """
    return {
        "campaign": run.campaign,
        "to_version": run.to_version,
        "approved_by": run.approved_by,
        "policy": run.policy.value,
        "account_id": run.account_id,
        "dry_run": run.dry_run,
        "applied": run.applied,
        "changed": run.applied,  # terms extended (said plainly beside dry_run)
        "items": [item_json(i) for i in run.items],
        "skipped": dict(run.skipped),
        "totals": [
            {
                "plan": t.plan,
                "terms": t.terms,
                "days": t.days,
                "money_equivalent": format_minor(t.money_equivalent_minor, t.currency),
                "currency": t.currency,
            }
            for t in run.totals
        ],
    }


def grants_json(page: Page[Grant]) -> dict[str, Any]:
    """``pledge grants list --json`` and ``GET /v1/grants`` (which adds its ``url``)."""
    return {"object": "list", "data": [grant_json(g) for g in page.rows], "has_more": page.has_more}


def revoked_json(grant: Grant) -> dict[str, Any]:
    """``pledge grants revoke --json`` and ``POST /v1/grants/{id}/revoke``: the grant as revoked."""
    return grant_json(grant)


def clawbacks_json(page: Page[ClawbackCase]) -> dict[str, Any]:
    """``pledge grants clawbacks --json`` and ``GET /v1/clawbacks`` (which adds its ``url``)."""
    return {"object": "list", "data": [clawback_json(c) for c in page.rows], "has_more": page.has_more}


def renewal_json(run: RenewalRun) -> dict[str, Any]:
    """``pledge subscriptions renew-due --json`` and the renewal run of the API (with its ``object``)."""
    return {
        "renewed": run.renewed,
        "lapsed": run.lapsed,
        "dry_run": False,
        "changed": run.renewed + run.lapsed,
    }


def run_json(run: RunOutcome) -> dict[str, Any]:
    """``pledge campaign run --json`` and the result of the API's ``campaign.run`` job."""
    return {
        "campaign": run.campaign,
        "version": run.version,
        "issued": run.issued,
        "dry_run": False,
        "changed": run.issued,
        "amount": format_minor(run.amount_minor, run.currency),
        "currency": run.currency,
        "budget_exhausted": run.budget_exhausted,
        "already_paid": run.already_paid,
        "budget_remaining": format_minor(run.budget_remaining_minor, run.currency),
    }


def problem_json(problem: Problem) -> dict[str, Any]:
    """A problem of a dry run (``campaigns`` only where stacking is allowed)."""
    shown: dict[str, Any] = {
        "code": problem.code,
        "blocking": problem.blocking,
        "count": problem.count,
        "purchases": list(problem.purchases),
    }
    if problem.campaigns is not None:
        shown["campaigns"] = dict(problem.campaigns)
    shown["message"] = problem.message
    return shown


def _near_miss_json(miss: NearMiss, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "purchase_id": miss.purchase_id,
        "account_id": miss.account_id,
        "condition": miss.condition,
        "distance_days": miss.distance_days,
        "purchased_at": format_instant(miss.purchased_at_us, tz),
    }


def _widen_json(widen: Widening, currency: str) -> dict[str, Any]:
    return {
        "days": widen.days,
        "from": widen.first.isoformat(),
        "to": widen.last.isoformat(),
        "added_grants": widen.added_grants,
        "added_amount": format_minor(widen.added_amount_minor, currency),
        "budget_exhausted": widen.budget_exhausted,
    }


def simulation_json(sim: Simulation) -> dict[str, Any]:
    """``pledge campaign simulate --json``, ``POST /v1/campaigns/{id}/simulate`` (with its ``object``)
    and the console's dry run page. ``tiers`` only for tiered terms, ``widen`` only when asked."""
    cur, plan = sim.currency, sim.plan
    shown: dict[str, Any] = {
        "campaign": sim.campaign,
        "evaluated": sim.evaluated,
        "qualifying": sim.qualifying,
        "grants": plan.grants,
        "amount": format_minor(plan.amount_minor, cur),
        "currency": cur,
    }
    if sim.tiers:
        shown["tiers"] = {
            t.id: {
                "grants": t.grants,
                "amount": format_minor(t.amount_minor, cur),
                "from": t.first.isoformat(),
                "to": t.last.isoformat(),
            }
            for t in sim.tiers
        }
    tz = zone(sim.timezone)
    shown |= {
        "budget": format_minor(sim.budget_minor, cur),
        "budget_exhausted": plan.budget_exhausted,
        "already_granted": plan.already_granted,
        "earns_nothing": plan.earns_nothing,
        "limits": {"per_account": plan.per_account, "per_serial": plan.per_serial},
        "group": sim.group,
        "stacking": sim.stacking.value,
        "already_paid": plan.already_paid,
        "already_paid_by": dict(sim.already_paid_by),
        "paid_again_by": dict(sim.paid_again_by),
        "rejections": dict(sim.rejections),
        "near_misses_total": sim.near_misses_total,
        "near_misses_by_condition": dict(sim.near_misses_by_condition),
        "near_misses": [_near_miss_json(m, tz) for m in sim.near_misses],
        "problems": [problem_json(p) for p in sim.problems],
        "blocking": sim.blocking,
    }
    if sim.widen is not None:
        shown["widen"] = _widen_json(sim.widen, cur)
    if sim.version is not None:
        shown["version"] = sim.version
    if sim.state is not None:
        shown["state"] = sim.state.value
    return shown


def expiry_json(run: ExpiryRun) -> dict[str, Any]:
    """``pledge grants expire --json`` and ``POST /v1/grants/expire`` (with ``"object"`` first)."""
    return {
        "expired": run.expired,
        "dry_run": False,
        "changed": run.expired,
        "amounts": [
            {"amount": format_minor(r.amount_minor, r.currency), "currency": r.currency} for r in run.returned
        ],
        "batches": run.batches,
    }


def import_json(result: ImportResult) -> dict[str, Any]:
    """``pledge import accounts|purchases --json`` and the result of the API's import job (which adds
    ``"object"`` and ``"kind"`` first)."""
    return {
        "imported": result.imported,
        "unchanged": result.unchanged,
        "updated": result.updated,
        "revoked": result.revoked,
        "clawbacks": result.clawbacks,
    }


def ledger_check_json(check: LedgerCheck) -> dict[str, Any]:
    """``pledge ledger verify --json`` and ``GET /v1/ledger/verify`` (with ``"object"`` first)."""
    return {
        "ok": check.ok,
        "entries": check.entries,
        "head_seq": check.head_seq,
        "head_hash": check.head_hash,
        "problems": list(check.problems),
        "campaigns": [_campaign_books_json(c) for c in check.campaigns],
    }


def _campaign_books_json(books: CampaignBooks) -> dict[str, Any]:
    if books.compensation_days is not None:
        return {"campaign": books.campaign_id, "compensation_days": books.compensation_days}
    assert books.currency is not None
    assert books.budget_remaining_minor is not None
    assert books.owed_unopened_minor is not None
    return {
        "campaign": books.campaign_id,
        "currency": books.currency,
        "budget_remaining": format_minor(books.budget_remaining_minor, books.currency),
        "owed_unopened": format_minor(books.owed_unopened_minor, books.currency),
    }


@singledispatch
def json_view(result: Any) -> Any:
    """A typed use-case result as its JSON; anything else (already JSON) as it is."""
    return result


json_view.register(RunOutcome, run_json)
json_view.register(ExpiryRun, expiry_json)
json_view.register(LedgerCheck, ledger_check_json)
json_view.register(CampaignReport, report_json)
json_view.register(ImportResult, import_json)
json_view.register(AppliedTerms, applied_json)
json_view.register(ApprovedTerms, approval_json)
json_view.register(LaunchedCampaign, launched_json)
json_view.register(StateChange, state_change_json)
json_view.register(Simulation, simulation_json)
json_view.register(Grant, grant_json)


@json_view.register
def _page_json(page: Page) -> dict[str, Any]:  # type: ignore[type-arg]  # any page of presented rows
    return {"object": "list", "data": [json_view(row) for row in page.rows], "has_more": page.has_more}
