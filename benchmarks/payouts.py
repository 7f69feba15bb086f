"""Payouts planned and dispatched per second, against a bare loop of the same HTTP calls.

    python -m benchmarks.payouts --grants 2000 --db sqlite
    python -m benchmarks.payouts --grants 2000 --db postgresql://postgres@127.0.0.1:5432/test

For each rail (``wechat_transfer``, then ``wallet``) it opens ``--grants`` red envelopes on a fresh
database (``pledge generate``, import, a launched campaign paying on that rail, every grant claimed),
then measures, each in its own process (peak RSS is that process's own):

- Pledge: ``plan_payouts`` and ``run_payouts`` as ``pledge payouts run`` calls them, with no rate
  limit, against the fake provider (the test suite's fake WeChat Pay, which checks every request's
  RSA signature and signs every reply, and the fake wallet, HMAC both ways) served on loopback by a
  separate process;
- its floor: a bare loop of the same requests to the same server with the same client library and
  the same signing and reply checks, and nothing else (no database, no state).

The ratio is what recording each transfer before it leaves and its answer after costs on top of the
HTTP exchange itself. Faults are off: the drills (``tests/drills``) are where faults are injected.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import Child, emit, is_sqlite, postgres_schema, worker
from pledge.adapters.payouts import wechat_signing
from pledge.adapters.payouts.config import wallet_config, wechat_config
from pledge.adapters.payouts.wallet import WalletRail
from pledge.adapters.payouts.wechat import TRANSFER_PATH, transfer_body
from pledge.domain.payouts import WALLET, WECHAT_TRANSFER
from pledge.usecases.payout_ports import TransferRequest

RAILS = (WECHAT_TRANSFER, WALLET)
CAMPAIGN_ID = "founders-refund"
NOW = "2021-08-10T12:00:00+08:00"
# Envelopes of at most 450.00 in bills of at most 199.90: two or three transfers per grant, all due
# on the first day (WeChat's 1000.00 and 10 bills per customer per day are not reached).
PAYOUTS = {
    WECHAT_TRANSFER: {"channel": "red_envelope", "claim_within": "30d", "rail": WECHAT_TRANSFER,
                      "split": {"max_per_transfer": "199.90"}},
    WALLET: {"channel": "red_envelope", "claim_within": "30d", "rail": WALLET,
             "split": {"max_per_transfer": "199.90"}},
}  # fmt: skip
BENEFIT = {"kind": "cashback", "amount": "price_paid", "max_amount": "450.00"}
WALLET_SECRET = "bench-wallet-secret"
APIV3_KEY = "0123456789abcdef0123456789abcdef"
# The seed's campaign paid on wechat_transfer: 18.46 M grants of 1999.00, in ten bills of 199.90.
SEED_GRANTS, SEED_GRANT_FEN, SEED_BILL_FEN, SEED_RATE = 18_460_000, 199_900, 19_990, 100
WECHAT_USER_DAY_FEN, WECHAT_USER_DAY_COUNT = 100_000, 10  # WeChat's per-customer daily limits


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- The fake providers, in a process of their own ------------------------------------------------


def _serve(conn: Connection, keys: dict[str, bytes]) -> None:
    """Serve both fakes until told to stop; answer ``stats`` with how many transfers each holds."""
    from cryptography.hazmat.primitives.serialization import (  # noqa: PLC0415 - in the child only
        load_pem_private_key,
        load_pem_public_key,
    )

    from tests.fakes.loopback import serving  # noqa: PLC0415 - the suite's fakes, not Pledge's code
    from tests.fakes.wallet_server import WalletHandler, WalletProvider  # noqa: PLC0415
    from tests.fakes.wechat_server import WechatHandler, WechatProvider  # noqa: PLC0415

    wechat = WechatProvider(
        mchid="1900000001",
        appid="wx8888888888888888",
        merchant_public_key=load_pem_public_key(keys["merchant_public"]),  # type: ignore[arg-type]
        merchant_serial="5157F09EFDC096DE15EBE81A47057A72",
        platform_private_key=load_pem_private_key(keys["platform_private"], None),  # type: ignore[arg-type]
        platform_key_id="PUB_KEY_ID_0114232134912410000000000000",
        apiv3_key=APIV3_KEY.encode(),
    )
    wallet = WalletProvider(secret=WALLET_SECRET.encode())
    with serving(WechatHandler, wechat) as wechat_url, serving(WalletHandler, wallet) as wallet_url:
        conn.send((wechat_url, wallet_url))
        while conn.recv() == "stats":
            conn.send({WECHAT_TRANSFER: len(wechat.bills), WALLET: len(wallet.credits)})


@contextmanager
def providers(folder: Path) -> Iterator[tuple[dict[str, str], Connection]]:
    """The fakes served by a child process; yields the rails' environment and the child's pipe."""
    from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key  # noqa: PLC0415
    from cryptography.hazmat.primitives.serialization import (  # noqa: PLC0415
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )

    merchant, platform = (generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    (folder / "apiclient_key.pem").write_bytes(
        merchant.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    )
    public = platform.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    (folder / "wechatpay_pub.pem").write_bytes(public)
    keys = {
        "merchant_public": merchant.public_key().public_bytes(
            Encoding.PEM, PublicFormat.SubjectPublicKeyInfo
        ),
        "platform_private": platform.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()),
    }
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    child = multiprocessing.get_context("spawn").Process(target=_serve, args=(theirs, keys), daemon=True)
    child.start()
    try:
        wechat_url, wallet_url = ours.recv()
        yield (
            {
                "PLEDGE_WECHAT_BASE_URL": wechat_url,
                "PLEDGE_WECHAT_MCHID": "1900000001",
                "PLEDGE_WECHAT_APPID": "wx8888888888888888",
                "PLEDGE_WECHAT_PRIVATE_KEY": str(folder / "apiclient_key.pem"),
                "PLEDGE_WECHAT_CERT_SERIAL": "5157F09EFDC096DE15EBE81A47057A72",
                "PLEDGE_WECHAT_PUBLIC_KEY": str(folder / "wechatpay_pub.pem"),
                "PLEDGE_WECHAT_PUBLIC_KEY_ID": "PUB_KEY_ID_0114232134912410000000000000",
                "PLEDGE_WECHAT_APIV3_KEY": APIV3_KEY,
                "PLEDGE_PUBLIC_URL": "https://pledge.example.com",
                "PLEDGE_WALLET_URL": wallet_url,
                "PLEDGE_WALLET_SECRET": WALLET_SECRET,
            },
            ours,
        )
    finally:
        ours.send("stop")
        child.join(timeout=10)


# --- Set-up: claimed grants on a fresh database -------------------------------------------------


def opened(db_url: str, folder: Path, grants: int, rail: str) -> int:
    """``grants`` red envelopes opened on a campaign paying on ``rail``; returns how many."""
    from tests.e2e.test_cli import Pledge  # noqa: PLC0415
    from tests.support.payout_setup import open_envelopes  # noqa: PLC0415

    cli = Pledge(db_url, folder)
    return len(open_envelopes(cli, folder, grants, payout=PAYOUTS[rail], benefit=BENEFIT, now=NOW))


# --- Workers: each measured in a process of its own ---------------------------------------------


def dispatch(db_url: str) -> dict[str, Any]:
    """Pledge's side: plan every claimed grant, then send every due transfer (``payouts run``)."""
    from pledge.bootstrap import App, FixedClock, payout_pace, payout_rail  # noqa: PLC0415
    from pledge.usecases.payout_plan import plan_payouts  # noqa: PLC0415
    from pledge.usecases.payouts import run_payouts  # noqa: PLC0415
    from tests.support.billing import us  # noqa: PLC0415

    app = App(db_url)
    clock = FixedClock(us(NOW))
    try:
        started = time.perf_counter()
        planned = plan_payouts(app.uow, clock, campaign_id=CAMPAIGN_ID)
        plan_s = time.perf_counter() - started
        started = time.perf_counter()
        counts = run_payouts(
            app.uow, clock, payout_rail, campaign_id=CAMPAIGN_ID, pace=payout_pace(app.engine, None)
        )
        send_s = time.perf_counter() - started
    finally:
        app.close()
    sent = sum(counts[k] for k in ("submitted", "succeeded", "failed", "unknown", "waiting_user"))
    return {"planned": planned, "plan_s": plan_s, "transfers": sent, "send_s": send_s, "counts": counts}


def _wallet_floor(requests: int) -> float:
    config = wallet_config(os.environ)
    wallet = WalletRail(config)  # its client and signed headers; the request itself goes out bare
    try:
        started = time.perf_counter()
        for n in range(requests):
            credit = {"credit_id": f"floor{n:020d}", "account_id": f"floor-{n}", "amount": "199.90"}
            body = json.dumps({**credit, "currency": "CNY", "memo": CAMPAIGN_ID}, separators=(",", ":"))
            headers = wallet._headers(body.encode())
            reply = wallet._client.post(f"{config.url}/credits", content=body, headers=headers)
            if reply.status_code not in (200, 201) or reply.json().get("status") != "credited":
                raise RuntimeError(f"floor credit {n}: HTTP {reply.status_code} {reply.text}")
        return time.perf_counter() - started
    finally:
        wallet.close()


def _wechat_floor(requests: int) -> float:
    wechat = wechat_config(os.environ)
    with httpx.Client(timeout=10) as client:
        started = time.perf_counter()
        for n in range(requests):
            request = TransferRequest(f"floor{n:020d}", f"o-floor-{n}", 19_990, "CNY", CAMPAIGN_ID)
            body = json.dumps(transfer_body(wechat, request), ensure_ascii=False, separators=(",", ":"))
            now_s = int(time.time())
            headers = {
                "Accept": "application/json",
                "Content-Type": "application/json",
                "Wechatpay-Serial": wechat.platform_public_key_id,
                "Authorization": wechat_signing.authorization(
                    private_key=wechat.private_key,
                    mchid=wechat.mchid,
                    serial=wechat.cert_serial,
                    method="POST",
                    path=TRANSFER_PATH,
                    body=body.encode(),
                    now_s=now_s,
                ),
            }
            reply = client.post(wechat.base_url + TRANSFER_PATH, content=body.encode(), headers=headers)
            distrust = wechat_signing.check_signed(
                wechat.platform_public_key, wechat.platform_public_key_id, reply.headers, reply.content, now_s
            )
            if reply.status_code != 200 or distrust or reply.json().get("out_bill_no") != request.request_id:
                raise RuntimeError(f"floor bill {n}: HTTP {reply.status_code} {distrust} {reply.text}")
        return time.perf_counter() - started


def floor(rail: str, requests: int) -> dict[str, Any]:
    """The same requests in a bare loop: the body, its signature, the POST, the reply's checks."""
    seconds = _wallet_floor(requests) if rail == WALLET else _wechat_floor(requests)
    return {"requests": requests, "seconds": seconds}


# --- The run ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RailResult:
    rail: str
    grants: int
    planned: int
    plan_s: float
    transfers: int
    send_s: float
    rss_mib: float
    floor_requests: int
    floor_s: float
    floor_rss_mib: float
    bills: int  # what the provider holds after both: Pledge's transfers and the floor's requests

    @property
    def per_s(self) -> float:
        return self.transfers / self.send_s

    @property
    def floor_per_s(self) -> float:
        return self.floor_requests / self.floor_s

    @property
    def ratio(self) -> float:
        return self.per_s / self.floor_per_s


@dataclass(frozen=True, slots=True)
class Result:
    db: str
    rails: list[RailResult]

    def markdown(self) -> str:
        lines = [
            "| step | time | transfers | transfers/s | floor /s | ratio | peak RSS |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in self.rails:
            lines.append(f"| plan ({r.rail}: {r.planned:,} grants) | {r.plan_s:.2f} s | {r.transfers:,} | "
                         f"{r.planned / r.plan_s:,.0f} grants/s | | | (in the row below) |")  # fmt: skip
            lines.append(f"| dispatch ({r.rail}) | {r.send_s:.2f} s | {r.transfers:,} | {r.per_s:,.0f} | "
                         f"{r.floor_per_s:,.0f} | {r.ratio:.2f}× | {r.rss_mib:.0f} MiB |")  # fmt: skip
            lines.append(f"| floor: bare loop ({r.rail}) | {r.floor_s:.2f} s | {r.floor_requests:,} | "
                         f"{r.floor_per_s:,.0f} | | | {r.floor_rss_mib:.0f} MiB |")  # fmt: skip
        return "\n".join(lines)


def seed_estimate(dispatch_per_s: float, plan_per_s: float, rate: int = SEED_RATE) -> list[str]:
    """How long the seed's 18.46 M grants of 1999.00 take on wechat_transfer at ``rate`` requests/s."""
    bills_per_grant = SEED_GRANT_FEN // SEED_BILL_FEN  # 10
    transfers = SEED_GRANTS * bills_per_grant
    per_day = min(WECHAT_USER_DAY_FEN // SEED_BILL_FEN, WECHAT_USER_DAY_COUNT)  # 5 bills a customer a day
    days_per_grant = -(-bills_per_grant // per_day)
    sending = transfers / min(rate, dispatch_per_s)
    first_day_needs = SEED_GRANTS * per_day / 86_400  # requests/s for the limits alone to set the pace
    return [
        f"{SEED_GRANTS:,} grants × {bills_per_grant} bills of {SEED_BILL_FEN / 100:.2f} = {transfers:,} "
        f"transfers; WeChat takes {per_day} of them per customer per day (1000.00 CNY, 10 bills), so each "
        f"grant needs at least {days_per_grant} days.",
        f"At {rate} requests/s (one request per transfer, results by callback): {transfers / rate:,.0f} s = "
        f"{transfers / rate / 86_400:.1f} days; Pledge dispatches {dispatch_per_s:,.0f}/s here, so the rate "
        f"limit dominates. The per-customer limits would set the pace only above "
        f"{first_day_needs:,.0f} requests/s (every customer's first {per_day} bills in one day).",
        f"Planning them: {SEED_GRANTS / plan_per_s / 3600:.1f} h at {plan_per_s:,.0f} grants/s; without "
        f"callbacks each transfer also needs a query: {2 * transfers / rate / 86_400:.1f} days "
        f"(sending takes {sending / 86_400:.1f} days of it).",
    ]


def _measure(db_url: str, folder: Path, grants: int, rail: str, stats: Connection) -> RailResult:
    _log(f"{rail}: opening {grants:,} red envelopes ...")
    opened(db_url, folder, grants, rail)
    _log(f"{rail}: dispatching ...")
    pledge = worker("payouts", "dispatch", "--db", db_url)
    got = pledge.json()
    _log(f"{rail}: floor, {got['transfers']:,} requests ...")
    bare: Child = worker("payouts", "floor", "--rail", rail, "--requests", str(max(got["transfers"], 1)))
    floor_got = bare.json()
    stats.send("stats")
    held = stats.recv()[rail]
    return RailResult(
        rail=rail,
        grants=grants,
        planned=got["planned"],
        plan_s=got["plan_s"],
        transfers=got["transfers"],
        send_s=got["send_s"],
        rss_mib=pledge.rss_mib,
        floor_requests=floor_got["requests"],
        floor_s=floor_got["seconds"],
        floor_rss_mib=bare.rss_mib,
        bills=held,
    )


@contextmanager
def _database(db: str, folder: Path, rail: str) -> Iterator[str]:
    if is_sqlite(db):
        yield f"sqlite:///{folder / f'{rail}.db'}"
    else:
        with postgres_schema(db) as url:
            yield url


def run(grants: int, db: str) -> Result:
    results = []
    with tempfile.TemporaryDirectory(prefix="pledge-payouts-bench-") as tmp, ExitStack() as stack:
        folder = Path(tmp)
        env, stats = stack.enter_context(providers(folder))
        os.environ.update(env)  # the workers' rails read it, as `pledge payouts run` does
        for rail in RAILS:
            (folder / rail).mkdir()
            with _database(db, folder, rail) as url:
                results.append(_measure(url, folder / rail, grants, rail, stats))
    return Result("sqlite" if is_sqlite(db) else "postgresql", results)


def main(argv: list[str] | None = None) -> Result | None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_argument_group("workers (run by the benchmark itself)")
    parser.add_argument("what", nargs="?", default="run", choices=("run", "dispatch", "floor"))
    parser.add_argument("--grants", type=int, default=2000)
    parser.add_argument("--db", default="sqlite", help="sqlite, or a PostgreSQL URL (a fresh schema is used)")
    sub.add_argument("--rail", choices=RAILS, default=WECHAT_TRANSFER)
    sub.add_argument("--requests", type=int, default=0)
    args = parser.parse_args(argv)
    if args.what == "dispatch":
        emit(dispatch(args.db))
        return None
    if args.what == "floor":
        emit(floor(args.rail, args.requests))
        return None
    result = run(args.grants, args.db)
    print(f"\n{args.grants:,} grants per rail on {result.db}:\n\n{result.markdown()}\n")
    wechat = result.rails[0]
    for line in seed_estimate(wechat.per_s, wechat.planned / wechat.plan_s):
        print(f"- {line}")
    return result


if __name__ == "__main__":
    main()
