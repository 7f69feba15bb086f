"""Scenario B in the seeded simulation (tests/drills/test_simulation.py): subscriptions and compensation.

The operations a user types: buy a subscription for an account, change the offer's terms (apply a
new version; most of the time approve it with another person's key), compensate, refund (plain or
refund-and-repurchase). :class:`Billing` keeps a reference model computed from PRODUCT.md alone
(calendar months in Asia/Shanghai, ``rate_parity`` / ``difference_as_time`` formulas, a purchase
compensated at most once, a refund taking back the compensation days not yet used) and checks the
CLI's answers, the subscriptions list, the campaign report's compensation totals and the ledger's
compensation days against it.
"""

from __future__ import annotations

import calendar
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pledge.domain.money import parse_minor
from tests.support.billing import CAMPAIGN_ID, LIST_PRICES, PLAN_IDS, TZ, V1_EFFECTIVE, offer, write_yaml
from tests.support.billing import plans as plans_doc
from tests.support.pages import every_page

Cli = Callable[..., Any]  # (*args, expect=0) -> the JSON document, or the exit code when expect is None
SHANGHAI = ZoneInfo(TZ)
START = datetime.fromisoformat("2023-10-31T08:00:00+08:00")
SALE = (date(2023, 10, 31), date(2023, 11, 11))  # both inclusive, local dates: every version keeps it
LIST = {plan: parse_minor(price, "CNY") for plan, price in LIST_PRICES.items()}
INTRO = (  # campaign prices a new version may offer for the first 12 months
    {"cloud-gold-50gb": "29.00", "cloud-platinum-200gb": "109.00", "cloud-diamond-2tb": "239.00"},
    {"cloud-gold-50gb": "39.00", "cloud-platinum-200gb": "129.00", "cloud-diamond-2tb": "299.00"},
    {"cloud-gold-50gb": "25.00", "cloud-platinum-200gb": "99.00", "cloud-diamond-2tb": "219.00"},
)
BONUS = (6, 3, 9)  # months free a bonus_period version gives on top of 12
POLICIES = ("rate_parity", "rate_parity", "rate_parity", "difference_as_time", "refund_and_repurchase")


def add_months(at: datetime, months: int, tz: ZoneInfo | type[UTC]) -> datetime:
    """Calendar months in ``tz``, the day clamped to the month's end (Jan 31 + 1 month = Feb 28/29)."""
    local = at.astimezone(tz)  # type: ignore[arg-type]
    year, month = divmod(local.month - 1 + months, 12)
    year, month = local.year + year, month + 1
    return local.replace(year=year, month=month, day=min(local.day, calendar.monthrange(year, month)[1]))


def days(start: datetime, end: datetime, tz: ZoneInfo) -> int:
    """Whole local calendar days between the local dates of ``start`` and ``end``."""
    return (end.astimezone(tz).date() - start.astimezone(tz).date()).days


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass
class Version:
    number: int
    effective: datetime
    offer: dict[str, Any]  # the file's terms.offer
    policy: str
    approved: bool = False

    def quote(self, plan: str, start: datetime) -> tuple[int, datetime]:
        """Price and end of ``plan`` bought at ``start`` under this version (inside the sale)."""
        if self.offer["type"] == "bonus_period":
            return LIST[plan], add_months(start, 12 + int(self.offer["bonus"].split()[0]), SHANGHAI)
        return parse_minor(self.offer["prices"][plan], "CNY"), add_months(start, 12, SHANGHAI)


def by_number(version: Version) -> int:
    return version.number


Item = tuple[int, datetime]  # a compensation: extra days, new end


@dataclass
class Term:
    id: str
    account: str
    plan: str
    price: int
    starts: datetime
    ends: datetime
    version: int | None  # None: bought at list price, outside the campaign
    kind: str = "first"
    state: str = "active"
    granted: int = 0  # compensation days given
    held: int = 0  # of those, what the customer still holds (a refund takes back the unused ones)
    reconciled: bool = False


class Billing:
    def __init__(self, cli: Cli, folder: Path, rng: random.Random, accounts: list[str]) -> None:
        self.cli, self.folder, self.rng, self.accounts = cli, folder, rng, accounts
        self.now = START
        self.versions: list[Version] = []
        self.terms: dict[str, Term] = {}
        self.keys: dict[str, str] = {}

    def at(self) -> str:
        return self.now.isoformat()

    def tick(self) -> None:
        """Time passes between two billing operations: minutes, now and then days (past the sale)."""
        big = self.rng.random() < 0.08
        self.now += timedelta(minutes=self.rng.randrange(1, 3 * 24 * 60 if big else 240))

    def setup(self, keys: dict[str, str]) -> None:
        self.keys = keys
        self.cli("plans", "apply", str(write_yaml(self.folder / "plans.yaml", plans_doc())), "--actor", "ops")
        first = offer(1)["terms"]["offer"]
        self._apply(Version(1, datetime.fromisoformat(V1_EFFECTIVE), first, "rate_parity"))
        self.cli("campaign", "approve", CAMPAIGN_ID, "--key", keys["approver"])
        self.versions[0].approved = True
        self.cli("campaign", "launch", CAMPAIGN_ID, "--key", keys["operator"], "--now", START.isoformat())

    def _apply(self, version: Version) -> None:
        terms = {"effective": version.effective.isoformat(), "offer": version.offer,
                 "compensation": {"policy": version.policy}}  # fmt: skip
        path = write_yaml(self.folder / f"offer-v{version.number}.yaml", offer(1, terms=terms))
        done = self.cli("campaign", "apply", str(path), "--key", self.keys["admin"])
        assert (done["version"], done["changed"]) == (version.number, True), done
        self.versions.append(version)

    def in_effect(self) -> Version:
        return max((v for v in self.versions if v.approved and v.effective <= self.now), key=by_number)

    def latest_approved(self) -> Version:
        return max((v for v in self.versions if v.approved), key=by_number)

    # -- operations ----------------------------------------------------------------------------

    def op_buy(self) -> str:
        self.tick()
        account, plan = self.rng.choice(self.accounts), self.rng.choice(PLAN_IDS)
        version: Version | None = self.in_effect()
        if not SALE[0] <= self.now.astimezone(SHANGHAI).date() <= SALE[1]:
            version = None
        if version is None:  # list price, 12 calendar months in UTC (`subscriptions buy --timezone`)
            price, ends = LIST[plan], add_months(self.now, 12, UTC)
        else:
            price, ends = version.quote(plan, self.now)
        got = self.cli("subscriptions", "buy", account, plan, "--now", self.at())
        term = Term(got["id"], account, plan, price, self.now, ends, version.number if version else None)
        assert got["id"] not in self.terms, got
        self.terms[term.id] = term
        self._same(term, got)
        return f"buy {account} {plan} v{term.version} ({got['id']})"

    def op_terms(self) -> str:
        self.tick()
        kind = self.rng.choice(("intro_price", "intro_price", "bonus_period"))
        offered = (
            {"type": kind, "prices": dict(self.rng.choice(INTRO))}
            if kind == "intro_price"
            else {"type": kind, "bonus": f"{self.rng.choice(BONUS)} months"}
        )
        version = Version(len(self.versions) + 1, self.now, offered, self.rng.choice(POLICIES))
        self._apply(version)
        if self.rng.random() < 0.75:
            self.cli("campaign", "approve", CAMPAIGN_ID, "--key", self.keys["approver"])
            version.approved = True
        else:  # left pending: its author may not approve it (four eyes), and it prices nothing
            assert self.cli("campaign", "approve", CAMPAIGN_ID, "--key", self.keys["author"], expect=1) == 1
        state = "approved" if version.approved else "pending"
        return f"terms v{version.number} {kind} {version.policy} ({state})"

    def expected_compensation(self, target: Version) -> tuple[dict[str, Item], dict[str, int]]:
        """PRODUCT.md's compensation of every first term bought under an older version: items, skipped."""
        items: dict[str, Item] = {}
        skipped: dict[str, int] = {}
        for term in self.terms.values():
            if term.version is None or term.version >= target.number or term.kind != "first":
                continue
            reason = ""
            p_new, new_end = target.quote(term.plan, term.starts)
            t_old, t_new = days(term.starts, term.ends, SHANGHAI), days(term.starts, new_end, SHANGHAI)
            if target.policy == "rate_parity":
                extra = max(0, ceil_div(term.price * t_new, p_new) - t_old)
            else:
                extra = max(0, ceil_div((term.price - p_new) * t_new, p_new))
            if term.state == "refunded":
                reason = "refunded"
            elif term.reconciled:
                reason = "already_compensated"
            elif target.policy == "refund_and_repurchase":
                reason = "customer_choice"
            elif extra == 0:
                reason = "no_difference"
            if reason:
                skipped[reason] = skipped.get(reason, 0) + 1
            else:
                items[term.id] = (extra, term.ends.astimezone(SHANGHAI) + timedelta(days=extra))
        return items, skipped

    def op_compensate(self) -> str:
        self.tick()
        target = self.latest_approved()
        if target.number == 1:
            code = self.cli("campaign", "compensate", CAMPAIGN_ID, "--now", self.at(), expect=None)
            assert code == 1, f"nothing to reconcile, yet compensate answered {code}"
            return "compensate (nothing to reconcile)"
        items, skipped = self.expected_compensation(target)
        dry = self.cli("campaign", "compensate", CAMPAIGN_ID, "--dry-run", "--actor", "ops")
        got = {i["subscription_id"]: (i["extra_days"], instant(i["new_ends_at"])) for i in dry["items"]}
        assert got == items, ("dry run", target, got, items)
        assert dry["skipped"] == dict(sorted(skipped.items())), (dry["skipped"], skipped)
        done = self.cli("campaign", "compensate", CAMPAIGN_ID, "--actor", "ops", "--now", self.at())
        assert (done["applied"], done["items"]) == (len(items), dry["items"]), (done, dry)
        for term_id, (extra, new_end) in items.items():
            term = self.terms[term_id]
            term.ends, term.granted, term.held, term.reconciled = new_end, extra, extra, True
        again = self.cli("campaign", "compensate", CAMPAIGN_ID, "--actor", "ops", "--now", self.at())
        assert (again["applied"], again["items"]) == (0, []), again  # each term compensated at most once
        return f"compensate to v{target.number} ({len(items)} applied, {sum(skipped.values())} skipped)"

    def op_refund(self) -> str:
        self.tick()
        if not self.terms:
            return "refund (none)"
        term = self.terms[self.rng.choice(sorted(self.terms))]
        repurchase = self.rng.random() < 0.5
        newer = self.in_effect()
        p_new, new_end = newer.quote(term.plan, term.starts)
        # Repurchase: a first term of the campaign, newer terms in effect, never costing more than paid.
        newer_ok = term.version is not None and newer.number > term.version and term.kind == "first"
        ok = term.state == "active" and (not repurchase or (newer_ok and p_new <= term.price))
        extra = ["--repurchase"] if repurchase else []
        got = self.cli("subscriptions", "refund", term.id, "--now", self.at(), *extra, expect=None)
        assert isinstance(got, dict) == ok and (ok or got == 1), (term, repurchase, newer, got)
        if not ok:
            return f"refund {term.id} (refused)"
        unused = max(0, days(max(self.now, term.starts), term.ends, SHANGHAI)) if not repurchase else None
        returned = term.held if unused is None else min(term.held, unused)
        charged = p_new if repurchase else 0
        money = [parse_minor(got[k], "CNY") for k in ("refunded", "charged", "net_refund")]
        assert money == [term.price, charged, term.price - charged], (got, term)
        assert got["compensation_days_returned"] == returned, (got, term)  # the compensation netted
        term.state, term.held = "refunded", term.held - returned
        if repurchase:
            new = got["subscription"]
            self.terms[new["id"]] = Term(new["id"], term.account, term.plan, p_new, term.starts, new_end,
                                         newer.number, kind="repurchase")  # fmt: skip
            self._same(self.terms[new["id"]], new)
            term.reconciled = True
        self._same(term, got.get("refunded_term", got["subscription"]))
        return f"refund {term.id}{' and repurchase' if repurchase else ''} ({returned} days back)"

    # -- checks --------------------------------------------------------------------------------

    def _same(self, term: Term, got: dict[str, Any]) -> None:
        seen = (got["id"], got["account_id"], got["plan"], parse_minor(got["price_paid"], "CNY"), got["kind"],
                instant(got["starts_at"]), instant(got["ends_at"]), got["terms_version"], got["state"],
                got["compensated_days"])  # fmt: skip
        model = (term.id, term.account, term.plan, term.price, term.kind, term.starts, term.ends,
                 term.version, term.state, term.held)  # fmt: skip
        assert seen == model, ("term differs from the model", seen, model)

    def check(self, verified: dict[str, Any]) -> None:
        listed = every_page(lambda after: self.cli("subscriptions", "list", "--limit", "100", *after))
        assert sorted(t["id"] for t in listed) == sorted(self.terms), "terms differ from the model"
        for got in listed:
            self._same(self.terms[got["id"]], got)
        report = self.cli("campaign", "report", CAMPAIGN_ID)
        totals: dict[str, tuple[int, int, int]] = {}
        for term in self.terms.values():
            if term.granted:
                n, held, back = totals.get(term.plan, (0, 0, 0))
                totals[term.plan] = (n + 1, held + term.held, back + term.granted - term.held)
        got = {c["plan"]: (c["terms"], c["days"], c["days_returned"]) for c in report["compensation"]}
        assert got == totals, ("compensation totals", got, totals)
        held = sum(t.held for t in self.terms.values())
        ledger = [c["compensation_days"] for c in verified["campaigns"] if c["campaign"] == CAMPAIGN_ID]
        assert len(ledger) <= 1 and sum(ledger) == held, ("ledger's compensation days", ledger, held)
