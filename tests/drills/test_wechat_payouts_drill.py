"""Acceptance drill for WeChat merchant transfers (ADR 27): opened red envelopes paid on
``wechat_transfer`` through the fake WeChat Pay on loopback while it misbehaves, with the dispatcher
killed (-9) at random points, completion callbacks delivered two or three times to `pledge serve`,
then `payouts sync` until settled → every grant paid exactly its amount (split over two days), no bill
number ever sent with other parameters, the ledger intact, and WeChat's statement reconciled with
zero differences.

Faults, drawn per request from a seeded list: 5 % transient (500 SYSTEM_ERROR, 429, or a connection
dropped before anything is created), 1 % applied and then unanswered (a slow silence and a drop, or a
drop). The seed is printed; ``PLEDGE_DRILL_SEED`` replays the faults and the kill delays.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, generate_private_key
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from pledge.domain.money import parse_minor
from tests.drills.conftest import NOW, db_name, figure, scaled
from tests.drills.test_payouts_crash import QuietServer
from tests.e2e.test_cli import Pledge
from tests.fakes.loopback import serving
from tests.fakes.wechat_server import _SAME_REQUEST, WechatHandler, WechatProvider
from tests.integration.test_payout_rails import APIV3_KEY, _pem_private
from tests.support import cli_forkserver
from tests.support.pages import every_page
from tests.support.payout_setup import open_envelopes
from tests.support.serve import pledge_serve

GRANTS = scaled(120, 10_000)  # about a minute per database bounded; 40 000 bills in full
KILLS = scaled(3, 10)
# Each notice costs `pledge serve` a signature check and a decryption: the bounded run delivers every
# fourth one (each two or three times) and leaves the rest to sync; the full run delivers them all.
NOTICE_SHARE = scaled(4, 1)
CID = "founders-refund"
# Each envelope is at most 450.00 and the plan pays at most 400.00 a day to one customer in bills of
# at most 200.00 (WeChat's own limits are wider): most grants are three bills over two days.
SPLIT = {"max_per_transfer": "200.00", "max_per_account_day": "400.00", "max_count_per_account_day": 10}
PAYOUT = {"channel": "red_envelope", "claim_within": "30d", "rail": "wechat_transfer", "split": SPLIT}
BENEFIT = {"kind": "cashback", "amount": "price_paid", "max_amount": "450.00"}
DAYS = (NOW, "2021-08-11T12:00:00+08:00")
TRANSIENT = ("SYSTEM_ERROR", "FREQUENCY_LIMITED", "drop")
APPLIED_UNANSWERED = ("apply_then_hang", "apply_then_drop")
SEED = int(os.environ.get("PLEDGE_DRILL_SEED", str(random.SystemRandom().randrange(1 << 32))))


@pytest.fixture
def wechat(tmp_path: Path) -> Iterator[tuple[WechatProvider, dict[str, str]]]:
    merchant, platform = _key(), _key()
    provider = WechatProvider(
        mchid="1900000001",
        appid="wx8888888888888888",
        merchant_public_key=merchant.public_key(),
        merchant_serial="5157F09EFDC096DE15EBE81A47057A72",
        platform_private_key=platform,
        platform_key_id="PUB_KEY_ID_0114232134912410000000000000",
        apiv3_key=APIV3_KEY.encode(),
        hang_s=0.3,  # a slow silence, then a drop: the bill exists, its answer never arrives
    )
    public_pem = tmp_path / "wechatpay_pub.pem"
    public_pem.write_bytes(
        platform.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    with serving(WechatHandler, provider, QuietServer) as url:
        yield (
            provider,
            {
                "PLEDGE_WECHAT_BASE_URL": url,
                "PLEDGE_WECHAT_MCHID": provider.mchid,
                "PLEDGE_WECHAT_APPID": provider.appid,
                "PLEDGE_WECHAT_PRIVATE_KEY": _pem_private(merchant, tmp_path / "apiclient_key.pem"),
                "PLEDGE_WECHAT_CERT_SERIAL": provider.merchant_serial,
                "PLEDGE_WECHAT_PUBLIC_KEY": str(public_pem),
                "PLEDGE_WECHAT_PUBLIC_KEY_ID": provider.platform_key_id,
                "PLEDGE_WECHAT_APIV3_KEY": APIV3_KEY,
                "PLEDGE_PUBLIC_URL": "https://pledge.example.com",
            },
        )


def _key() -> RSAPrivateKey:
    return generate_private_key(public_exponent=65537, key_size=2048)


def opened(cli: Pledge, folder: Path, grants: int) -> dict[str, int]:
    """``grants`` envelopes opened; each opening customer's openid and expected total, in fen."""
    issued = open_envelopes(cli, folder, grants, payout=PAYOUT, benefit=BENEFIT, now=NOW)
    assert len(issued) >= grants, f"only {len(issued)} grants issued"
    expected: Counter[str] = Counter()
    for grant in issued:
        expected[f"o-{grant['account_id']}"] += parse_minor(grant["amount"], grant["currency"])
    return dict(expected)


def faults(rng: random.Random, n: int) -> list[str]:
    def one() -> str:
        draw = rng.random()
        if draw < 0.05:
            return rng.choice(TRANSIENT)
        return rng.choice(APPLIED_UNANSWERED) if draw < 0.06 else ""

    return [one() for _ in range(n)]


def killed_runs(
    cli: Pledge, env: dict[str, str], now: str, rng: random.Random, kills: int, sent: Callable[[], int]
) -> int:
    """`payouts run` started and SIGKILLed ``kills`` times, after a random number of requests reached
    WeChat (or a random delay, a third of the time: start-up and planning). Returns the kills that
    landed after the command had begun talking to WeChat."""
    full_env = {k: v for k, v in os.environ.items() if k != "PLEDGE_API_KEY"}
    full_env.update(env, PLEDGE_DATABASE_URL=cli.db_url)
    mid_work = 0
    for _ in range(kills):
        seen = sent()
        by_delay = rng.random() < 1 / 3
        after = rng.randint(1, 60)
        deadline = time.monotonic() + (rng.uniform(0.02, 1.5) if by_delay else 60)
        args = ["payouts", "run", "--campaign", CID, "--now", now, "--json"]
        proc = cli_forkserver.start(args, cwd=cli.cwd, env=full_env)
        while proc.poll() is None and time.monotonic() < deadline and sent() - seen < after:
            time.sleep(0.001)
        time.sleep(rng.uniform(0, 0.002))
        if proc.poll() is None:
            proc.kill()  # SIGKILL: no handler, no clean-up
            mid_work += sent() != seen
        proc.communicate()
    return mid_work


def deliver_callbacks(url: str, provider: WechatProvider, start: int, rng: random.Random) -> int:
    """Every completion notice since ``start`` POSTed two or three times, each delivery signed anew
    as WeChat signs it; returns the deliveries."""
    hook = f"{url}/v1/payouts/callbacks/wechat"
    delivered = 0
    with httpx.Client(timeout=30) as client:
        for _headers, body in provider.callbacks[start::NOTICE_SHARE]:
            for _ in range(rng.choice((2, 2, 3))):
                answer = client.post(hook, content=body, headers=provider.signed(body))
                assert answer.status_code == 204, answer.text
                delivered += 1
    return delivered


def payouts(cli: Pledge, env: dict[str, str], *args: str) -> None:
    """`payouts run` or `sync` to its end: at full scale one call sends a whole day's 20 000 bills,
    longer than the CLI helper's two minutes on a busy machine."""
    full_env = {k: v for k, v in os.environ.items() if k != "PLEDGE_API_KEY"}
    full_env.update(env, PLEDGE_DATABASE_URL=cli.db_url)
    done = cli_forkserver.run(["payouts", *args, "--json"], cwd=cli.cwd, env=full_env, timeout_s=1800)
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr}{done.stdout}"


def transfers(cli: Pledge) -> list[dict[str, Any]]:
    return every_page(lambda after: cli.json("payouts", "list", "--campaign", CID, "--limit", "1000", *after))


def test_wechat_payouts_drill_pays_each_grant_exactly_once(
    db_url: str, tmp_path: Path, wechat: tuple[WechatProvider, dict[str, str]]
) -> None:
    provider, env = wechat
    rng = random.Random(SEED)
    started = time.monotonic()
    cli = Pledge(db_url, tmp_path)
    expected = opened(cli, tmp_path, GRANTS)
    setup_s = time.monotonic() - started
    injected = faults(rng, 40 * GRANTS)
    provider.post_faults[:] = injected
    provider.query_faults[:] = [
        rng.choice(("SYSTEM_ERROR", "hang")) if rng.random() < 0.06 else "" for _ in range(40 * GRANTS)
    ]
    mid_work = syncs = delivered = 0
    callback_s = 0.0
    start = time.monotonic()
    with pledge_serve(cli.db_url, tmp_path, env=env) as url:
        for day, now in enumerate(DAYS):
            if day:
                provider.next_day()
            share = KILLS // len(DAYS) + (day < KILLS % len(DAYS))
            mid_work += killed_runs(cli, env, now, rng, share, lambda: len(provider.sent))
            payouts(cli, env, "run", "--campaign", CID, "--now", now)
            for _ in range(20):  # WeChat settles in the background; its notices race with sync
                notices = len(provider.callbacks)
                provider.settle()
                began = time.monotonic()
                delivered += deliver_callbacks(url, provider, notices, rng)
                callback_s += time.monotonic() - began
                payouts(cli, env, "sync", "--now", now)
                syncs += 1
                payouts(cli, env, "run", "--campaign", CID, "--now", now)
                left = Counter(t["state"] for t in transfers(cli) if t["due_on"] <= now[:10])
                if set(left) <= {"succeeded"}:
                    break
    pay_s = time.monotonic() - start

    states = Counter(t["state"] for t in transfers(cli))
    by_number: dict[str, set[tuple[Any, ...]]] = defaultdict(set)
    for request in provider.sent:
        by_number[request["out_bill_no"]].add(tuple(request[k] for k in _SAME_REQUEST))
    reused = sorted(n for n, versions in by_number.items() if len(versions) > 1)
    paid = {openid: fen for openid, fen in provider.paid.items() if fen}
    ledger_ok = cli.json("ledger", "verify")["ok"]
    statement = tmp_path / "wechat-statement.csv"
    provider.statement(statement, "2021-08-11")
    reconcile = cli.json("payouts", "reconcile", "--rail", "wechat_transfer", "--statement", str(statement))
    resent = len(provider.sent) - len(provider.bills)
    posts = len(injected) - len(provider.post_faults)  # one fault entry consumed per POST
    hit = Counter("transient" if f in TRANSIENT else "applied, unanswered" for f in injected[:posts] if f)
    figure(
        f"wechat payouts drill [{db_name(db_url)}]: seed {SEED}, {len(expected)} grants "
        f"({sum(expected.values()) / 100:.2f} CNY) paid in {len(provider.bills)} bills "
        f"over {len(DAYS)} days, "
        f"{posts} transfer POSTs ({dict(hit)} faults; {resent} resent bills reached WeChat again), "
        f"{KILLS} kill -9 of payouts run ({mid_work} mid-conversation), {delivered} callbacks delivered "
        f"(1 in {NOTICE_SHARE} of {len(provider.callbacks)} notices, each 2-3 times, {callback_s:.0f}s), "
        f"{syncs} syncs, states {dict(states)}, "
        f"{'every grant paid exactly its amount' if paid == expected else 'PAYMENTS DIFFER'}, "
        f"{len(reused)} bill numbers reused with other parameters, ledger {'ok' if ledger_ok else 'BROKEN'}, "
        f"reconcile {reconcile['matched']} matched / {reconcile['differences']} differences "
        f"(set-up {setup_s:.0f}s, paying {pay_s:.0f}s)"
    )
    assert dict(states) == {"succeeded": sum(states.values())}
    assert paid == expected
    assert reused == []
    assert all(b["state"] == "SUCCESS" for b in provider.bills.values())
    assert ledger_ok
    assert reconcile["differences"] == 0 and reconcile["matched"] == len(provider.bills)
