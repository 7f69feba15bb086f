"""The demo's payout: the opened envelope becomes money, through a sandbox wallet on loopback, and the
plan the same envelope would follow on WeChat Pay's merchant transfers (split by its limits)."""

from __future__ import annotations

import secrets

from pledge.adapters.payouts.config import WalletConfig
from pledge.adapters.payouts.sandbox_wallet import SandboxWallet
from pledge.adapters.payouts.wallet import WalletRail
from pledge.bootstrap import App
from pledge.domain.money import format_minor, parse_minor
from pledge.domain.payouts import WECHAT_TRANSFER, default_limits, first_payout_day, plan_payout
from pledge.domain.timeutil import parse_instant
from pledge.entrypoints.cli.demo_steps import step
from pledge.entrypoints.cli.options import out
from pledge.usecases.payout_listing import list_payouts, payout_json
from pledge.usecases.payouts import run_payouts


def pay_and_plan(app: App, campaign: str, grant: dict[str, str], timezone: str) -> None:
    step(
        "7b",
        "The envelope becomes money",
        "Opening it is a promise; paying it keeps it. The campaign pays to the company's own wallet\n"
        "(here a sandbox wallet on loopback): each transfer has a request id the wallet credits once,\n"
        "so sending again — after a crash, a timeout, a second worker — never pays twice.",
    )
    secret = secrets.token_bytes(16)
    wallet = SandboxWallet(secret)
    with wallet as url:
        rail = WalletRail(WalletConfig(url=url, secret=secret))
        first = run_payouts(app.uow, app.clock, lambda _name: rail, campaign_id=campaign)
        again = run_payouts(app.uow, app.clock, lambda _name: rail, campaign_id=campaign)
    paid = [payout_json(t) for t in list_payouts(app.uow, grant_id=grant["id"]).rows]
    out.print(
        f"  run: {first['succeeded']} transfer(s) succeeded; run again: {again['submitted']} sent. "
        f"The wallet holds {len(wallet.credits)} credit(s): "
        + ", ".join(f"{t['amount']} {t['currency']} to {t['account_id']} ({t['state']})" for t in paid),
        soft_wrap=True,
    )
    amount = parse_minor(grant["amount"], grant["currency"])
    limits = default_limits(WECHAT_TRANSFER)
    plan = plan_payout(
        grant_id=grant["id"],
        rail=WECHAT_TRANSFER,
        amount_minor=amount,
        currency=grant["currency"],
        limits=limits,
        first_day=first_payout_day(parse_instant(grant["claimed_at"]), timezone),
    )
    days: dict[str, list[int]] = {}
    for transfer in plan.transfers:
        days.setdefault(transfer.due_on.isoformat(), []).append(transfer.amount_minor)
    out.print(
        f"  On WeChat Pay's merchant transfers (at most {format_minor(limits.max_per_transfer or 0, 'CNY')} "
        f"a transfer, {format_minor(limits.max_per_account_day or 0, 'CNY')} and "
        f"{limits.max_count_per_account_day} transfers a person a day) the same "
        f"{grant['amount']} would be paid as:",
        soft_wrap=True,
    )
    for day, parts in days.items():
        shown = " + ".join(format_minor(p, grant["currency"]) for p in parts)
        out.print(f"    {day}: {len(parts)} transfers, {shown}", soft_wrap=True)
