"""The WeChat transfer rail against the fake WeChat Pay on loopback: every fault, never a guessed
outcome, never paid twice (the wallet rail: test_payout_rails_wallet.py)."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
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
from pledge.usecases.payout_ports import TransferRequest
from tests.fakes.driving import CLIENT_TIMEOUT_S, GRANT, drive, request_of, transfer_of
from tests.fakes.loopback import serving
from tests.fakes.wechat_server import WechatHandler, WechatProvider

OPENID = "o-MYE42l80oelYMDE34nYD456Xoy"
APIV3_KEY = "0123456789abcdef0123456789abcdef"


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
    transfer, seen = drive(wechat.rail, transfer_of(), OPENID, background=wechat.provider.settle)
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
    transfer, seen = drive(wechat.rail, transfer_of(), OPENID, background=wechat.provider.settle)
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
    request = request_of(transfer_of(), OPENID)
    lost = wechat.rail.send(request)
    assert (lost.outcome, lost.reason) == (Outcome.UNKNOWN, reason)
    transfer, _ = drive(wechat.rail, transfer_of(), OPENID, background=wechat.provider.settle)
    assert transfer.state is TransferState.SUCCEEDED
    assert len(wechat.provider.bills) == 1 and wechat.provider.paid[OPENID] == 19_990


def test_a_callback_and_a_query_racing_agree_and_redeliveries_change_nothing(wechat: Wechat) -> None:
    wechat.provider.post_faults.append("apply_then_drop")
    transfer = mark_sent(transfer_of())
    request = request_of(transfer, OPENID)
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
        transfer = transfer_of(rng.randint(10, 20_000), seq=scenario + 1)
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
    answer = wechat.rail.send(request_of(transfer_of(), OPENID))
    assert (answer.outcome, answer.reason) == (Outcome.UNKNOWN, "bad_signature")
    wechat.provider.query_faults.append("bad_signature")
    assert wechat.rail.query(request_of(transfer_of(), OPENID)).reason == "bad_signature"
    assert wechat.rail.query(request_of(transfer_of(), OPENID)).outcome is Outcome.PROCESSING


def test_wechat_waits_for_the_customer_then_an_overdue_close_allows_a_new_bill(wechat: Wechat) -> None:
    wechat.provider.fates += ["WAIT_USER_CONFIRM", "WAIT_USER_CONFIRM"]
    transfer, seen = drive(wechat.rail, transfer_of(), OPENID)
    assert transfer.state is TransferState.WAITING_USER and seen == [Outcome.WAITING_USER]
    assert transfer.package_info == f"pkg-{transfer.request_id}"  # for the customer's confirmation page
    wechat.provider.query_faults.append("hang")
    unanswered = wechat.rail.query(request_of(transfer, OPENID))
    assert (unanswered.outcome, unanswered.reason) == (Outcome.UNKNOWN, "timeout")
    still = apply_answer(transfer, unanswered)
    assert (still.state, still.package_info) == (TransferState.WAITING_USER, transfer.package_info)
    assert wechat.rail.query(request_of(transfer, OPENID)).package_info == f"pkg-{transfer.request_id}"
    wechat.provider.overdue_close(transfer.request_id)
    headers, body = wechat.provider.callbacks[-1]
    closed = apply_answer(
        transfer, parse_transfer_callback(wechat.rail.config, headers, body, now_s=_now()).answer
    )
    assert (closed.state, closed.reason) == (TransferState.FAILED, "OVERDUE_CLOSE")
    offered_again, _ = drive(wechat.rail, next_attempt(closed), OPENID)
    assert offered_again.request_id != transfer.request_id
    wechat.provider.confirm(offered_again.request_id)
    paid = apply_answer(offered_again, wechat.rail.query(request_of(offered_again, OPENID)))
    assert paid.state is TransferState.SUCCEEDED and wechat.provider.paid[OPENID] == 19_990


def test_wechat_permanent_failure_carries_the_provider_reason(wechat: Wechat) -> None:
    wechat.provider.fates.append("FAIL:ACCOUNT_FROZEN")
    transfer, _ = drive(wechat.rail, transfer_of(), OPENID, background=wechat.provider.settle)
    assert (transfer.state, transfer.reason) == (TransferState.FAILED, "ACCOUNT_FROZEN")
    assert wechat.provider.paid[OPENID] == 0


def test_wechat_same_bill_with_other_parameters_is_never_applied_nor_called_failed(wechat: Wechat) -> None:
    original = transfer_of()
    wechat.rail.send(request_of(original, OPENID))
    altered = request_of(replace(original, amount_minor=20_000), OPENID)
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
    drive(wechat.rail, transfer_of(), OPENID, background=wechat.provider.settle)
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
        assert caught.value.code == "payout_callback_signature"  # answered 401 by the route
    with pytest.raises(InputError, match="stale_signature"):
        parse_transfer_callback(config, headers, body, now_s=_now() + 3600)
    other_key = replace(config, apiv3_key=b"x" * 32)
    with pytest.raises(InputError, match="does not decrypt"):
        parse_transfer_callback(other_key, headers, body, now_s=_now())


def test_wechat_refuses_a_request_signed_with_another_key(wechat: Wechat, tmp_path: Path) -> None:
    stranger = generate_private_key(public_exponent=65537, key_size=2048)
    env = {**wechat.env, "PLEDGE_WECHAT_PRIVATE_KEY": _pem_private(stranger, tmp_path / "stranger.pem")}
    rail = WechatTransferRail(wechat_config(env), timeout_s=CLIENT_TIMEOUT_S)
    answer = rail.send(request_of(transfer_of(), OPENID))
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
    return int(time.time())
