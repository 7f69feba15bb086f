"""Human-readable output (Rich tables) for the commands that have more than a line to say."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.markup import escape
from rich.table import Table

from pledge.domain.money import format_minor
from pledge.domain.timeutil import format_instant, zone
from pledge.entrypoints.cli.options import out
from pledge.usecases.simulation import Simulation, TierReach


def money(amount: str, currency: str) -> str:
    """Group thousands for people ("22,591,219.00 CNY"); JSON keeps the plain decimal string."""
    sign, digits = ("-", amount[1:]) if amount.startswith("-") else ("", amount)
    whole, _, frac = digits.partition(".")
    return f"{sign}{int(whole):,}{'.' + frac if frac else ''} {currency}"


def money_minor(amount_minor: int, currency: str) -> str:
    """``money`` of an amount in minor units."""
    return money(format_minor(amount_minor, currency), currency)


def simulation(sim: Simulation) -> None:
    cur, plan = sim.currency, sim.plan
    state = "" if sim.state is None else sim.state.value
    summary = Table(title=f"Dry run of {sim.campaign} v{sim.version} ({state})", show_header=False)
    summary.add_row("purchases evaluated", f"{sim.evaluated:,}")
    summary.add_row("qualifying (all conditions)", f"{sim.qualifying:,}")
    summary.add_row("grants the next run would issue", f"{plan.grants:,}")
    summary.add_row(
        "total amount", f"{money_minor(plan.amount_minor, cur)} (budget {money_minor(sim.budget_minor, cur)})"
    )
    summary.add_row("left out: one per account", f"{plan.per_account:,}")
    summary.add_row("left out: one per device (serial)", f"{plan.per_serial:,}")
    summary.add_row("left out: budget exhausted", f"{plan.budget_exhausted:,}")
    for other, n in sim.already_paid_by.items():
        summary.add_row(f"left out: already paid by {escape(other)}", f"{n:,}")
    summary.add_row(
        "promise group",
        f"{escape(sim.group)}, stacking "
        + (
            "[bold red]ALLOWED[/]: pays purchases the group already paid"
            if sim.stacking_allowed
            else sim.stacking.value
        ),
    )
    if plan.earns_nothing:
        summary.add_row("left out: earns nothing (amount zero, e.g. a free item)", f"{plan.earns_nothing:,}")
    if plan.already_granted:
        summary.add_row("already granted earlier", f"{plan.already_granted:,}")
    out.print(summary)
    if sim.tiers:
        out.print(_tiers(sim.tiers, cur))
    out.print(_rejections(sim))
    if sim.near_misses:
        out.print(_near_misses(sim))
    if sim.widen is not None:
        w = sim.widen
        out.print(
            f"Widening the window by {w.days} day(s) to {w.first}..{w.last} would add "
            f"[bold]{w.added_grants:,}[/] grants costing [bold]{money_minor(w.added_amount_minor, cur)}[/]."
        )
    for problem in sim.problems:
        style = "bold red" if problem.blocking else "yellow"
        label = "BLOCKING" if problem.blocking else "warning"
        out.print(f"[{style}]{label}[/] {problem.code}: {escape(problem.message)}", soft_wrap=True)


def _tiers(tiers: Iterable[TierReach], currency: str) -> Table:
    table = Table(title="Reach and cost per tier (the first tier whose window holds a purchase pays it)")
    table.add_column("tier")
    table.add_column("purchased")
    table.add_column("grants", justify="right")
    table.add_column("amount", justify="right")
    for tier in tiers:
        table.add_row(
            escape(tier.id),
            f"{tier.first}..{tier.last}",
            f"{tier.grants:,}",
            money_minor(tier.amount_minor, currency),
        )
    return table


def _rejections(sim: Simulation) -> Table:
    table = Table(title="Rejections by condition (a purchase may fail several)")
    table.add_column("condition")
    table.add_column("rejected", justify="right")
    table.add_column("near misses (fail only this)", justify="right")
    for name, count in sim.rejections.items():
        table.add_row(escape(name), f"{count:,}", f"{sim.near_misses_by_condition.get(name, 0):,}")
    return table


def _near_misses(sim: Simulation) -> Table:
    table = Table(title=f"Near misses (first {len(sim.near_misses)} of {sim.near_misses_total:,})")
    for column in ("purchase", "account", "failed condition", "days outside", "purchased at"):
        table.add_column(column)
    tz = zone(sim.timezone)
    for miss in sim.near_misses[:15]:
        days = "" if miss.distance_days is None else str(miss.distance_days)
        at = format_instant(miss.purchased_at_us, tz)
        table.add_row(miss.purchase_id, miss.account_id, miss.condition, days, at)
    return table


def approval(result: dict[str, Any]) -> None:
    out.print(f"{result['id']} version {result['version']} approved by {result['approved_by']}")
    if result.get("stacking") == "allowed":
        out.print(
            f"[bold red]stacking allowed[/]: this version pays purchases other campaigns of group "
            f"{escape(result['group'])} already paid (see `pledge campaign simulate {result['id']}`)",
            soft_wrap=True,
        )


def launched(result: dict[str, Any]) -> None:
    out.print(f"{result['id']} is {result['state']} (version {result['version']})")
    short = result.get("accepted_shortfall")
    if short:
        out.print(
            f"[yellow]shortfall accepted[/]: {short['purchases']:,} qualifying purchases get nothing; "
            f"{money(short['missing'], short['currency'])} more would pay them all",
            soft_wrap=True,
        )


def explanation(result: dict[str, Any]) -> None:
    verdict = "[green]qualifies[/]" if result["qualifies"] else "[red]does not qualify[/]"
    out.print(
        f"Account {result['account_id']} (region {result['region']}) {verdict} for {result['campaign']} "
        f"v{result['terms_version']}"
    )
    for purchase in result["purchases"]:
        table = Table(
            title=f"purchase {purchase['purchase_id']}: "
            + ("qualifies" if purchase["qualifies"] else "does not qualify")
        )
        table.add_column("condition")
        table.add_column("result")
        table.add_column("deciding values")
        for condition in purchase["conditions"]:
            mark = "[green]pass[/]" if condition["passed"] else "[red]fail[/]"
            table.add_row(escape(condition["name"]), mark, escape(condition["detail"]))
        out.print(table)
        if purchase.get("grant"):
            g = purchase["grant"]
            out.print(
                f"  grant {g['id']}: {g['amount']} {g['currency']}, {g['state']}, expires {g['expires_at']}"
                + (f", tier {escape(g['tier'])}" if g.get("tier") else "")
            )
        elif purchase.get("why_no_grant"):
            out.print(f"  no grant: {escape(purchase['why_no_grant']['message'])}", soft_wrap=True)


def offer_report(result: dict[str, Any]) -> None:
    table = Table(title=f"{result['id']} (offer): {result['state']}", show_header=False)
    for v in result["versions"]:
        approval = f"approved by {v['approved_by']}" if v["approved"] else "not approved"
        table.add_row(
            f"version {v['version']}", f"effective {v['effective_at']}, by {v['author']}, {approval}"
        )
    table.add_row("subscription terms", ", ".join(f"{k}: {n:,}" for k, n in result["subscriptions"].items()))
    for c in result["compensation"]:
        table.add_row(
            f"compensated {c['plan']}",
            f"{c['terms']:,} terms, {c['days']:,} days, worth {money(c['money_equivalent'], c['currency'])}",
        )
    out.print(table)


def report(result: dict[str, Any]) -> None:
    if result.get("kind") == "offer":
        offer_report(result)
        return
    cur = result["currency"]
    table = Table(title=f"{result['id']}: {result['state']}", show_header=False)
    for key in (
        "budget",
        "issued_amount",
        "claimed_amount",
        "expired_amount",
        "outstanding_amount",
        "paid_amount",
        "in_transit_amount",
        "failed_amount",
        "budget_remaining",
    ):
        table.add_row(key.replace("_", " "), money(result[key], cur))
    table.add_row("grants", ", ".join(f"{k}: {v:,}" for k, v in result["grants"].items()))
    owed = result["clawbacks"]
    table.add_row("open claw-backs", f"{owed['open']:,}: {money(owed['open_amount'], cur)} owed back")
    out.print(table)


def id_column(table: Table, header: str, ids: Iterable[str]) -> None:
    """A column of ids people copy into their next command: never truncated or wrapped, at any width."""
    table.add_column(header, no_wrap=True, min_width=max((len(i) for i in ids), default=len(header)))


def grant_list(result: dict[str, Any]) -> None:
    table = Table(title="Grants" + (" (more: use --starting-after)" if result["has_more"] else ""))
    id_column(table, "id", (g["id"] for g in result["data"]))
    table.add_column("campaign")
    id_column(table, "account", (g["account_id"] for g in result["data"]))
    for column in ("purchase", "amount", "state", "expires at"):
        table.add_column(column)
    for g in result["data"]:
        table.add_row(
            g["id"],
            g["campaign"],
            g["account_id"],
            g["purchase_id"],
            f"{g['amount']} {g['currency']}",
            g["state"],
            g["expires_at"],
        )
    out.print(table)


def expiry(result: dict[str, Any]) -> None:
    returned = ", ".join(money(a["amount"], a["currency"]) for a in result["amounts"]) or "nothing"
    out.print(f"expired {result['expired']:,} grants in {result['batches']:,} campaigns; {returned} returned")
