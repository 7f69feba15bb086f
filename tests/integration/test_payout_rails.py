"""Payout rails against fake providers on loopback: every fault, never a guessed outcome, never paid twice.

Each test drives a transfer the way a dispatcher must: send; while the outcome
is not final, ask the provider; resend the *same* request only when the
provider says it has never seen it; mint a new request id only after a
definitive failure.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, generate_private_key
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from pledge.adapters.payouts.config import wallet_config, wechat_config
from pledge.adapters.payouts.wallet import WalletRail
from pledge.adapters.payouts.wechat import WechatTransferRail, parse_transfer_callback
from pledge.domain.errors import InputError
from pledge.domain.payout_transfers import (
    Outcome,
    Transfer,
    TransferState,
    apply_answer,
    mark_sent,
    next_attempt,
)
from pledge.domain.payouts import WECHAT_TRANSFER_LIMITS, plan_payout
from pledge.usecases.payout_ports import PayoutRail, TransferRequest
from tests.fakes.loopback import serving
from tests.fakes.wallet_server import WalletHandler, WalletProvider
from tests.fakes.wechat_server import WechatHandler, WechatProvider

GRANT = "gr_00112233445566778899aabb"
OPENID = "o-MYE42l80oelYMDE34nYD456Xoy"
APIV3_KEY = "0123456789abcdef0123456789abcdef"
CLIENT_TIMEOUT_S = 0.5


def _transfer(amount: int = 19_990, seq: int = 1, rail: str = "wechat_transfer") -> Transfer:
    return Transfer(GRANT, seq, 1, rail, amount, "CNY", date(2026, 12, 4))


def _request(transfer: Transfer, payee: str) -> TransferRequest:
    return TransferRequest(transfer.request_id, payee, transfer.amount_minor, "CNY", "Founders refund")


def drive(
    rail: PayoutRail,
    transfer: Transfer,
    payee: str,
    *,
    background: Callable[[], None] = lambda: None,
    rounds: int = 4,
) -> tuple[Transfer, list[Outcome]]:
    """Send, then resolve by asking only; returns the transfer and every outcome seen."""
    request = _request(transfer, payee)
    transfer = mark_sent(transfer)
    answer = rail.send(request)
    seen = [answer.outcome]
    transfer = apply_answer(transfer, answer)
    while transfer.state in (TransferState.SUBMITTED, TransferState.UNKNOWN) and rounds:
        rounds -= 1
        background()
        answer = rail.query(request)
        seen.append(answer.outcome)
        if answer.outcome is Outcome.NOT_FOUND:  # never applied: the same request again is safe
            answer = rail.send(request)
            seen.append(answer.outcome)
        transfer = apply_answer(transfer, answer)
    return transfer, seen


# --- wallet ---------------------------------------------------------------------------------------


@pytest.fixture
def wallet() -> Iterator[tuple[WalletProvider, WalletRail]]:
    provider = WalletProvider(secret=b"wallet-secret", hang_s=CLIENT_TIMEOUT_S * 3)
    with serving(WalletHandler, provider) as url:
        config = wallet_config({"PLEDGE_WALLET_URL": url, "PLEDGE_WALLET_SECRET": "wallet-secret"})
        rail = WalletRail(config, timeout_s=CLIENT_TIMEOUT_S)
        yield provider, rail
        rail.close()


def test_wallet_credits_once_and_a_resend_returns_the_first_result(wallet) -> None:
    provider, rail = wallet
    transfer, seen = drive(rail, _transfer(199_900, rail="wallet"), "acct-1")
    assert transfer.state is TransferState.SUCCEEDED and seen == [Outcome.SUCCEEDED]
    again = rail.send(_request(transfer, "acct-1"))
    assert again.outcome is Outcome.SUCCEEDED
    assert provider.applied[transfer.request_id] == 1
    assert provider.balance_minor("acct-1") == 199_900


@pytest.mark.parametrize(
    ("fault", "first_reason"),
    [
        ("503", "http_503"),
        ("apply_then_503", "http_503"),
        ("apply_then_hang", "timeout"),
        ("apply_then_drop", "no_answer"),
    ],
)
def test_wallet_faults_are_unknown_until_the_wallet_is_asked(wallet, fault: str, first_reason: str) -> None:
    provider, rail = wallet
    provider.post_faults.append(fault)
    request = _request(_transfer(5_000, rail="wallet"), "acct-2")
    first = rail.send(request)
    assert first.outcome is Outcome.UNKNOWN and first.reason == first_reason
    transfer, seen = drive(rail, _transfer(5_000, rail="wallet"), "acct-2")
    assert transfer.state is TransferState.SUCCEEDED
    assert provider.applied[request.request_id] == 1  # applied once, whatever the retries
    assert provider.balance_minor("acct-2") == 5_000
    assert seen[0] is Outcome.SUCCEEDED  # the resend replays the first result


def test_wallet_query_tells_never_applied_from_unreachable(wallet) -> None:
    provider, rail = wallet
    request = _request(_transfer(rail="wallet"), "acct-3")
    assert rail.query(request).outcome is Outcome.NOT_FOUND
    provider.query_faults.append("503")
    assert rail.query(request).outcome is Outcome.UNKNOWN


def test_wallet_same_id_other_payload_is_a_conflict_not_a_failure(wallet) -> None:
    provider, rail = wallet
    original = _transfer(1_000, rail="wallet")
    assert rail.send(_request(original, "acct-4")).outcome is Outcome.SUCCEEDED
    altered = _request(replace(original, amount_minor=2_000), "acct-4")
    conflict = rail.send(altered)
    assert (conflict.outcome, conflict.reason) == (Outcome.UNKNOWN, "id_conflict")
    assert rail.query(altered).reason == "id_conflict"  # the query compares what the wallet holds
    assert provider.balance_minor("acct-4") == 1_000


def test_wallet_refusals_are_permanent_failures_and_only_they_mint_a_new_id(wallet) -> None:
    provider, rail = wallet
    provider.max_per_account_day = 10_000
    assert rail.send(_request(_transfer(9_000, seq=1, rail="wallet"), "acct-5")).outcome is Outcome.SUCCEEDED
    transfer, _ = drive(rail, _transfer(2_000, seq=2, rail="wallet"), "acct-5")
    assert (transfer.state, transfer.reason) == (TransferState.FAILED, "daily_limit_exceeded")
    retry = next_attempt(transfer)
    assert retry.request_id != transfer.request_id and retry.attempt == 2


def test_wallet_checks_the_signature(wallet) -> None:
    provider, rail = wallet
    url = rail.config.url
    forger = WalletRail(wallet_config({"PLEDGE_WALLET_URL": url, "PLEDGE_WALLET_SECRET": "guess"}))
    answer = forger.send(_request(_transfer(rail="wallet"), "acct-6"))
    assert (answer.outcome, answer.reason) == (Outcome.FAILED, "bad_signature")
    assert provider.bad_signatures == 1 and not provider.credits
    forger.close()


# --- WeChat ---------------------------------------------------------------------------------------


@dataclass
class Wechat:
    provider: WechatProvider
    rail: WechatTransferRail
    env: dict[str, str]


def _pem_private(key: RSAPrivateKey, path: Path) -> str:
    path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    return str(path)


@pytest.fixture(scope="module")
def keys() -> tuple[RSAPrivateKey, RSAPrivateKey]:
    return (
        generate_private_key(public_exponent=65537, key_size=2048),
        generate_private_key(public_exponent=65537, key_size=2048),
    )


@pytest.fixture
def wechat(keys, tmp_path: Path) -> Iterator[Wechat]:
    merchant, platform = keys
    provider = WechatProvider(
        mchid="1900000001",
        appid="wx8888888888888888",
        merchant_public_key=merchant.public_key(),
        merchant_serial="5157F09EFDC096DE15EBE81A47057A72",
        platform_private_key=platform,
        platform_key_id="PUB_KEY_ID_0114232134912410000000000000",
        apiv3_key=APIV3_KEY.encode(),
        hang_s=CLIENT_TIMEOUT_S * 3,
    )
    public_pem = tmp_path / "wechatpay_pub.pem"
    public_pem.write_bytes(
        platform.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    with serving(WechatHandler, provider) as url:
        env = {
            "PLEDGE_WECHAT_BASE_URL": url,
            "PLEDGE_WECHAT_MCHID": provider.mchid,
            "PLEDGE_WECHAT_APPID": provider.appid,
            "PLEDGE_WECHAT_PRIVATE_KEY": _pem_private(merchant, tmp_path / "apiclient_key.pem"),
            "PLEDGE_WECHAT_CERT_SERIAL": provider.merchant_serial,
            "PLEDGE_WECHAT_PUBLIC_KEY": str(public_pem),
            "PLEDGE_WECHAT_PUBLIC_KEY_ID": provider.platform_key_id,
            "PLEDGE_WECHAT_APIV3_KEY": APIV3_KEY,
            "PLEDGE_PUBLIC_URL": "https://pledge.example.com",
        }
        rail = WechatTransferRail(wechat_config(env), timeout_s=CLIENT_TIMEOUT_S)
        yield Wechat(provider, rail, env)
        rail.close()


def test_wechat_transfer_is_accepted_then_paid_and_the_callback_agrees(wechat: Wechat) -> None:
    transfer, seen = drive(wechat.rail, _transfer(), OPENID, background=wechat.provider.settle)
    assert seen == [Outcome.PROCESSING, Outcome.SUCCEEDED]
    assert transfer.state is TransferState.SUCCEEDED and transfer.provider_ref.startswith("1330")
    assert wechat.provider.paid[OPENID] == 19_990
    headers, body = wechat.provider.callbacks[0]
    callback = parse_transfer_callback(wechat.rail.config, headers, body, now_s=_now())
    assert (callback.request_id, callback.amount_minor, callback.openid) == (
        transfer.request_id,
        19_990,
        OPENID,
    )
    assert apply_answer(transfer, callback.answer) == transfer  # the callback agrees with the query
    assert apply_answer(transfer, callback.answer) == transfer  # and a redelivery changes nothing


@pytest.mark.parametrize("fault", ["SYSTEM_ERROR", "FREQUENCY_LIMITED", "NOT_ENOUGH"])
def test_wechat_errors_before_applying_are_unknown_then_resent_under_the_same_bill(
    wechat: Wechat, fault: str
) -> None:
    wechat.provider.post_faults.append(fault)
    transfer, seen = drive(wechat.rail, _transfer(), OPENID, background=wechat.provider.settle)
    assert seen[:3] == [Outcome.UNKNOWN, Outcome.NOT_FOUND, Outcome.PROCESSING]
    assert transfer.state is TransferState.SUCCEEDED
    assert list(wechat.provider.bills) == [transfer.request_id]
    assert wechat.provider.paid[OPENID] == 19_990


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("apply_then_hang", "timeout"),
        ("apply_then_drop", "no_answer"),
        ("apply_then_SYSTEM_ERROR", "SYSTEM_ERROR"),
    ],
)
def test_wechat_applied_but_the_answer_lost_is_resolved_by_asking(
    wechat: Wechat, fault: str, reason: str
) -> None:
    wechat.provider.post_faults.append(fault)
    request = _request(_transfer(), OPENID)
    lost = wechat.rail.send(request)
    assert (lost.outcome, lost.reason) == (Outcome.UNKNOWN, reason)
    transfer, _ = drive(wechat.rail, _transfer(), OPENID, background=wechat.provider.settle)
    assert transfer.state is TransferState.SUCCEEDED
    assert len(wechat.provider.bills) == 1 and wechat.provider.paid[OPENID] == 19_990


def test_a_callback_and_a_query_racing_agree_and_redeliveries_change_nothing(wechat: Wechat) -> None:
    wechat.provider.post_faults.append("apply_then_drop")
    transfer = mark_sent(_transfer())
    request = _request(transfer, OPENID)
    transfer = apply_answer(transfer, wechat.rail.send(request))
    assert transfer.state is TransferState.UNKNOWN
    wechat.provider.settle()
    headers, body = wechat.provider.callbacks[0]
    callback = parse_transfer_callback(wechat.rail.config, headers, body, now_s=_now())
    assert (callback.request_id, callback.amount_minor) == (request.request_id, request.amount_minor)
    paid = apply_answer(transfer, callback.answer)  # the callback arrives first
    assert paid.state is TransferState.SUCCEEDED
    for late in (wechat.rail.query(request), callback.answer, callback.answer):
        assert apply_answer(paid, late) == paid
    assert wechat.provider.paid[OPENID] == 19_990 and len(wechat.provider.bills) == 1


def test_random_faults_never_yield_a_guessed_outcome_nor_a_second_payment(wechat: Wechat) -> None:
    rng = random.Random(20261204)
    provider = wechat.provider
    expected_state = {
        TransferState.SUCCEEDED: "SUCCESS",
        TransferState.FAILED: "FAIL",
        TransferState.WAITING_USER: "WAIT_USER_CONFIRM",
    }
    for scenario in range(40):
        openid = f"o-scenario-{scenario}"
        post = ["SYSTEM_ERROR", "FREQUENCY_LIMITED", "NOT_ENOUGH", "apply_then_drop", "bad_signature"]
        query = ["SYSTEM_ERROR", "FREQUENCY_LIMITED", "bad_signature"]
        provider.post_faults = rng.choices(post, k=rng.randint(0, 3))
        provider.query_faults = rng.choices(query, k=rng.randint(0, 2))
        provider.fates = [rng.choice(["SUCCESS", "SUCCESS", "FAIL:ACCOUNT_FROZEN", "WAIT_USER_CONFIRM"])]
        transfer = _transfer(rng.randint(10, 20_000), seq=scenario + 1)
        done, _ = drive(wechat.rail, transfer, openid, background=provider.settle, rounds=8)
        bills = [b for b in provider.bills.values() if b["openid"] == openid]
        assert len(bills) <= 1, "one transfer attempt, one bill"
        paid = provider.paid[openid]
        assert paid in (0, transfer.amount_minor)
        if done.state in expected_state:
            assert bills and bills[0]["state"] == expected_state[done.state], (scenario, done)
        else:  # still unresolved only while faults remained; never a final state without the provider's word
            assert done.state in (TransferState.SUBMITTED, TransferState.UNKNOWN)
        assert (paid > 0) == (done.state is TransferState.SUCCEEDED) or done.state is TransferState.UNKNOWN


def test_wechat_reply_with_a_bad_signature_is_not_believed(wechat: Wechat) -> None:
    wechat.provider.post_faults.append("bad_signature")
    answer = wechat.rail.send(_request(_transfer(), OPENID))
    assert (answer.outcome, answer.reason) == (Outcome.UNKNOWN, "bad_signature")
    wechat.provider.query_faults.append("bad_signature")
    assert wechat.rail.query(_request(_transfer(), OPENID)).reason == "bad_signature"
    assert wechat.rail.query(_request(_transfer(), OPENID)).outcome is Outcome.PROCESSING


def test_wechat_waits_for_the_customer_then_an_overdue_close_allows_a_new_bill(wechat: Wechat) -> None:
    wechat.provider.fates += ["WAIT_USER_CONFIRM", "WAIT_USER_CONFIRM"]
    transfer, seen = drive(wechat.rail, _transfer(), OPENID)
    assert transfer.state is TransferState.WAITING_USER and seen == [Outcome.WAITING_USER]
    assert transfer.package_info == f"pkg-{transfer.request_id}"  # for the customer's confirmation page
    wechat.provider.query_faults.append("hang")
    unanswered = wechat.rail.query(_request(transfer, OPENID))
    assert (unanswered.outcome, unanswered.reason) == (Outcome.UNKNOWN, "timeout")
    still = apply_answer(transfer, unanswered)
    assert (still.state, still.package_info) == (TransferState.WAITING_USER, transfer.package_info)
    assert wechat.rail.query(_request(transfer, OPENID)).package_info == f"pkg-{transfer.request_id}"
    wechat.provider.overdue_close(transfer.request_id)
    headers, body = wechat.provider.callbacks[-1]
    closed = apply_answer(
        transfer, parse_transfer_callback(wechat.rail.config, headers, body, now_s=_now()).answer
    )
    assert (closed.state, closed.reason) == (TransferState.FAILED, "OVERDUE_CLOSE")
    offered_again, _ = drive(wechat.rail, next_attempt(closed), OPENID)
    assert offered_again.request_id != transfer.request_id
    wechat.provider.confirm(offered_again.request_id)
    paid = apply_answer(offered_again, wechat.rail.query(_request(offered_again, OPENID)))
    assert paid.state is TransferState.SUCCEEDED and wechat.provider.paid[OPENID] == 19_990


def test_wechat_permanent_failure_carries_the_provider_reason(wechat: Wechat) -> None:
    wechat.provider.fates.append("FAIL:ACCOUNT_FROZEN")
    transfer, _ = drive(wechat.rail, _transfer(), OPENID, background=wechat.provider.settle)
    assert (transfer.state, transfer.reason) == (TransferState.FAILED, "ACCOUNT_FROZEN")
    assert wechat.provider.paid[OPENID] == 0


def test_wechat_same_bill_with_other_parameters_is_never_applied_nor_called_failed(wechat: Wechat) -> None:
    original = _transfer()
    wechat.rail.send(_request(original, OPENID))
    altered = _request(replace(original, amount_minor=20_000), OPENID)
    refused = wechat.rail.send(altered)
    assert (refused.outcome, refused.reason) == (Outcome.UNKNOWN, "INVALID_REQUEST")
    assert wechat.rail.query(altered).reason == "id_conflict"
    assert wechat.provider.bills[original.request_id]["transfer_amount"] == 19_990


def test_a_1999_plan_pays_within_the_users_daily_limits_over_two_days(wechat: Wechat) -> None:
    plan = plan_payout(
        grant_id=GRANT,
        rail="wechat_transfer",
        amount_minor=199_900,
        currency="CNY",
        limits=WECHAT_TRANSFER_LIMITS,
        first_day=date(2026, 12, 4),
    )
    first_day = [t for t in plan.transfers if t.due_on == date(2026, 12, 4)]
    for planned in first_day:
        transfer = Transfer(
            GRANT, planned.seq, 1, "wechat_transfer", planned.amount_minor, "CNY", planned.due_on
        )
        done, _ = drive(wechat.rail, transfer, OPENID, background=wechat.provider.settle)
        assert done.state is TransferState.SUCCEEDED
    assert wechat.provider.paid[OPENID] == 99_950
    # what the plan keeps for tomorrow would break today's limit at the provider
    early = plan.transfers[len(first_day)]
    refused, _ = drive(
        wechat.rail,
        Transfer(GRANT, early.seq, 1, "wechat_transfer", early.amount_minor, "CNY", early.due_on),
        OPENID,
        background=wechat.provider.settle,
    )
    assert (refused.state, refused.reason) == (TransferState.FAILED, "DAY_RECEIVED_QUOTA_EXCEED")


def test_wechat_callbacks_that_are_not_wechats_are_refused(wechat: Wechat, keys) -> None:
    wechat.provider.fates.append("SUCCESS")
    drive(wechat.rail, _transfer(), OPENID, background=wechat.provider.settle)
    headers, body = wechat.provider.callbacks[0]
    config = wechat.rail.config
    tampered = body.replace(b"MCHTRANSFER", b"MCHTRANSFEr")
    forged = wechat.provider.signed(body, wrong_key=True)
    for bad_headers, bad_body, reason in [
        (headers, tampered, "bad_signature"),
        (forged, body, "bad_signature"),
        ({**headers, "Wechatpay-Serial": "PUB_KEY_ID_OTHER"}, body, "unknown_signing_key"),
        ({}, body, "unsigned_reply"),
    ]:
        with pytest.raises(InputError, match=reason) as caught:
            parse_transfer_callback(config, bad_headers, bad_body, now_s=_now())
        assert caught.value.code == "payout_callback_rejected"
    with pytest.raises(InputError, match="stale_signature"):
        parse_transfer_callback(config, headers, body, now_s=_now() + 3600)
    other_key = replace(config, apiv3_key=b"x" * 32)
    with pytest.raises(InputError, match="does not decrypt"):
        parse_transfer_callback(other_key, headers, body, now_s=_now())


def test_wechat_refuses_a_request_signed_with_another_key(wechat: Wechat, tmp_path: Path) -> None:
    stranger = generate_private_key(public_exponent=65537, key_size=2048)
    env = {**wechat.env, "PLEDGE_WECHAT_PRIVATE_KEY": _pem_private(stranger, tmp_path / "stranger.pem")}
    rail = WechatTransferRail(wechat_config(env), timeout_s=CLIENT_TIMEOUT_S)
    answer = rail.send(_request(_transfer(), OPENID))
    assert (answer.outcome, answer.reason) == (Outcome.UNKNOWN, "SIGN_ERROR")
    assert wechat.provider.refused_signatures == 1 and not wechat.provider.bills
    rail.close()


def test_configuration_errors_name_the_variable(wechat: Wechat, tmp_path: Path) -> None:
    for name in ("PLEDGE_WECHAT_MCHID", "PLEDGE_WECHAT_PUBLIC_KEY", "PLEDGE_WECHAT_APIV3_KEY"):
        with pytest.raises(InputError, match=name) as caught:
            wechat_config({k: v for k, v in wechat.env.items() if k != name})
        assert caught.value.code == "payout_rail_not_configured" and caught.value.param == name
    with pytest.raises(InputError, match="cannot read the PEM file"):
        wechat_config({**wechat.env, "PLEDGE_WECHAT_PRIVATE_KEY": str(tmp_path / "missing.pem")})
    with pytest.raises(InputError, match="PLEDGE_WALLET_SECRET"):
        wallet_config({"PLEDGE_WALLET_URL": "http://127.0.0.1:1"})
    config = wechat_config({k: v for k, v in wechat.env.items() if k != "PLEDGE_WECHAT_BASE_URL"})
    assert config.base_url == "https://api.mch.weixin.qq.com" and config.scene_id == "1000"
    assert config.notify_url == "https://pledge.example.com/v1/payouts/callbacks/wechat"
    with pytest.raises(InputError, match="CNY"):
        wechat.rail.send(TransferRequest("gr1", OPENID, 100, "USD", "memo"))


def _now() -> int:
    import time

    return int(time.time())
