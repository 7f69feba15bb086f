"""WeChat Pay's side of merchant transfers (transfer-bills), as WeChat documents it, with faults.

It checks the merchant's request signature, signs every reply with the
platform key, deduplicates by ``out_bill_no`` (the same number with other
parameters is refused, never applied), enforces the per-transfer and per-user
daily limits, and produces the signed, encrypted MCHTRANSFER.BILL.FINISHED
callbacks for the test to deliver (as often as it likes).

A new bill is ACCEPTED; :meth:`WechatProvider.settle` processes accepted bills
to their fate (``fates``, consumed per new bill: ``SUCCESS``, ``WAIT_USER_CONFIRM``
or ``FAIL:<reason>``). ``post_faults`` / ``query_faults`` are consumed one per request:
``SYSTEM_ERROR`` (500, nothing created), ``FREQUENCY_LIMITED`` (429),
``NOT_ENOUGH`` (403), ``apply_then_hang``, ``apply_then_drop``,
``apply_then_SYSTEM_ERROR``, ``drop`` (the connection closed, nothing created),
``bad_signature`` (a reply signed with the wrong key), ``hang`` (a query left unanswered).
Every well-formed transfer request is kept in ``sent``, in order, applied or not.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey, generate_private_key

from pledge.adapters.payouts import wechat_signing
from tests.fakes.loopback import JsonHandler, Server

TRANSFER_PATH = "/v3/fund-app/mch-transfer/transfer-bills"
QUERY_PREFIX = TRANSFER_PATH + "/out-bill-no/"
MIN_FEN, MAX_FEN = 10, 20_000
USER_DAY_FEN, USER_DAY_COUNT = 100_000, 10
_FAULT_STATUS = {"SYSTEM_ERROR": 500, "FREQUENCY_LIMITED": 429, "NOT_ENOUGH": 403}
_SAME_REQUEST = ("appid", "openid", "transfer_amount", "transfer_scene_id", "transfer_remark")


@dataclass
class WechatProvider:
    mchid: str
    appid: str
    merchant_public_key: RSAPublicKey
    merchant_serial: str
    platform_private_key: RSAPrivateKey
    platform_key_id: str
    apiv3_key: bytes
    hang_s: float = 2.0
    fates: list[str] = field(default_factory=list)
    post_faults: list[str] = field(default_factory=list)
    query_faults: list[str] = field(default_factory=list)
    bills: dict[str, dict[str, Any]] = field(default_factory=dict)
    fate_of: dict[str, str] = field(default_factory=dict)
    callbacks: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    paid: Counter[str] = field(default_factory=Counter)  # fen paid per openid
    refused_signatures: int = 0
    day: int = 0  # the provider's business day: the per-user daily limits count bills of this day
    bill_day: dict[str, int] = field(default_factory=dict)
    bills_of: dict[str, list[str]] = field(default_factory=dict)  # openid → its bill numbers
    sent: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def signed(self, body: bytes, *, wrong_key: bool = False) -> dict[str, str]:
        key = (
            generate_private_key(public_exponent=65537, key_size=2048)
            if wrong_key
            else self.platform_private_key
        )
        return wechat_signing.signed_headers(key, self.platform_key_id, body, int(time.time()))

    def _finish(self, bill: dict[str, Any], state: str, reason: str = "") -> None:
        bill["state"] = state
        if reason:
            bill["fail_reason"] = reason
        if state == "SUCCESS":
            self.paid[bill["openid"]] += bill["transfer_amount"]
        bill.pop("package_info", None)
        plain = json.dumps({k: v for k, v in bill.items() if k not in ("transfer_remark", "appid")})
        notice = {
            "id": secrets.token_hex(8),
            "create_time": "2026-12-04T10:00:00+08:00",
            "resource_type": "encrypt-resource",
            "event_type": "MCHTRANSFER.BILL.FINISHED",
            "summary": "商家转账单据终态通知",
            "resource": wechat_signing.encrypt_resource(self.apiv3_key, plain.encode(), "mch_payment"),
        }
        body = json.dumps(notice, ensure_ascii=False).encode()
        self.callbacks.append((self.signed(body), body))

    def settle(self) -> None:
        """Process every accepted bill to its fate (what WeChat does in the background)."""
        with self.lock:
            for number, bill in self.bills.items():
                if bill["state"] != "ACCEPTED":
                    continue
                fate = self.fate_of[number]
                if fate.startswith("FAIL:"):
                    self._finish(bill, "FAIL", fate.removeprefix("FAIL:"))
                else:
                    self._finish(bill, "SUCCESS")

    def statement(self, path: Path, day: str, *, drop: int = 0, surplus: int = 0, alter: int = 0) -> None:
        """The merchant's statement of finished bills (CONTRACT.md: ``reference, amount, currency,
        state, finished_at``), with faults: the first ``drop`` paid bills left out, ``surplus`` paid
        bills Pledge never sent added, the next ``alter`` paid bills one fen larger."""
        lines = ["reference,amount,currency,state,finished_at"]
        paid = 0
        for number, bill in self.bills.items():
            if bill["state"] not in ("SUCCESS", "FAIL"):
                continue
            fen = bill["transfer_amount"]
            if bill["state"] == "SUCCESS":
                paid += 1
                if paid <= drop:
                    continue
                fen += 1 if paid <= drop + alter else 0
            lines.append(f"{number},{fen // 100}.{fen % 100:02d},CNY,{bill['state']},{day}T10:00:00+08:00")
        lines += [f"gx{i:029d},199.90,CNY,SUCCESS,{day}T10:00:00+08:00" for i in range(surplus)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def next_day(self) -> None:
        """Midnight in Beijing: each user's daily amount and count start again."""
        with self.lock:
            self.day += 1

    def confirm(self, out_bill_no: str) -> None:
        """The customer confirms on the page: the money moves."""
        with self.lock:
            assert self.bills[out_bill_no]["state"] == "WAIT_USER_CONFIRM"
            self._finish(self.bills[out_bill_no], "SUCCESS")

    def overdue_close(self, out_bill_no: str) -> None:
        """24 h without the customer's confirmation: WeChat closes the bill."""
        with self.lock:
            assert self.bills[out_bill_no]["state"] == "WAIT_USER_CONFIRM"
            self._finish(self.bills[out_bill_no], "FAIL", "OVERDUE_CLOSE")

    def create(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.sent.append(dict(request))
            number = request["out_bill_no"]
            existing = self.bills.get(number)
            if existing is not None:
                if any(existing[k] != request.get(k) for k in _SAME_REQUEST):
                    return 400, {"code": "INVALID_REQUEST", "message": "商户单号重复，且参数与首次请求不一致"}
                return 200, existing
            amount = request["transfer_amount"]
            if not MIN_FEN <= amount <= MAX_FEN:
                return 400, {"code": "PARAM_ERROR", "message": "转账金额超出单笔限额"}
            today = [
                self.bills[n]
                for n in self.bills_of.get(request["openid"], [])
                if self.bills[n]["state"] != "FAIL" and self.bill_day[n] == self.day
            ]
            fate = self.fates.pop(0) if self.fates else "SUCCESS"
            if sum(b["transfer_amount"] for b in today) + amount > USER_DAY_FEN:
                fate = "FAIL:DAY_RECEIVED_QUOTA_EXCEED"
            elif len(today) + 1 > USER_DAY_COUNT:
                fate = "FAIL:DAY_RECEIVED_COUNT_EXCEED"
            bill = {
                "mchid": self.mchid,
                "out_bill_no": number,
                "transfer_bill_no": f"1330{len(self.bills) + 1:020d}",
                "appid": request["appid"],
                "openid": request["openid"],
                "transfer_scene_id": request["transfer_scene_id"],
                "transfer_amount": amount,
                "transfer_remark": request["transfer_remark"],
                "state": "ACCEPTED",
                "create_time": "2026-12-04T10:00:00+08:00",
            }
            if fate == "WAIT_USER_CONFIRM":  # user-confirm mode: the reply already asks for the customer
                bill["state"] = "WAIT_USER_CONFIRM"
                bill["package_info"] = f"pkg-{number}"
            self.bills[number] = bill
            self.bill_day[number] = self.day
            self.bills_of.setdefault(request["openid"], []).append(number)
            self.fate_of[number] = fate
            return 200, bill

    def request_signature_ok(self, method: str, path: str, authorization: str, body: bytes) -> bool:
        fields = wechat_signing.parse_authorization(authorization)
        timestamp = fields.get("timestamp", "")
        if (
            fields.get("mchid") != self.mchid
            or fields.get("serial_no") != self.merchant_serial
            or not timestamp.isdigit()
            or abs(time.time() - int(timestamp)) > wechat_signing.MAX_SKEW_S
        ):
            return False
        message = wechat_signing.request_message(method, path, timestamp, fields.get("nonce_str", ""), body)
        return wechat_signing.verify(self.merchant_public_key, message, fields.get("signature", ""))


class WechatHandler(JsonHandler):
    @property
    def provider(self) -> WechatProvider:
        assert isinstance(self.server, Server)
        provider = self.server.provider
        assert isinstance(provider, WechatProvider)
        return provider

    def answer(self, status: int, payload: dict[str, Any], *, wrong_key: bool = False) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode()
        self.reply(status, body, self.provider.signed(body, wrong_key=wrong_key))

    def _authorized(self, method: str, body: bytes) -> bool:
        if self.provider.request_signature_ok(method, self.path, self.headers.get("Authorization", ""), body):
            return True
        self.provider.refused_signatures += 1
        self.answer(401, {"code": "SIGN_ERROR", "message": "签名错误"})
        return False

    def do_POST(self) -> None:
        body = self.body()
        if self.path != TRANSFER_PATH:
            self.answer(404, {"code": "NOT_FOUND", "message": self.path})
            return
        if not self._authorized("POST", body):
            return
        provider = self.provider
        fault = provider.post_faults.pop(0) if provider.post_faults else ""
        if fault in _FAULT_STATUS:
            self.answer(_FAULT_STATUS[fault], {"code": fault, "message": "请稍后重试"})
            return
        if fault == "drop":
            self.drop()
            return
        try:
            request = json.loads(body)
            assert isinstance(request["transfer_amount"], int) and request["appid"] == provider.appid
        except (ValueError, KeyError, AssertionError):
            self.answer(400, {"code": "PARAM_ERROR", "message": "参数错误"})
            return
        status, bill = provider.create(request)
        payload = (
            {k: bill[k] for k in ("out_bill_no", "transfer_bill_no", "create_time", "state")}
            if status == 200
            else bill
        )
        if status == 200 and "package_info" in bill:
            payload["package_info"] = bill["package_info"]
        if fault == "apply_then_hang":
            time.sleep(provider.hang_s)
            self.drop()
        elif fault == "apply_then_drop":
            self.drop()
        elif fault == "apply_then_SYSTEM_ERROR":
            self.answer(500, {"code": "SYSTEM_ERROR", "message": "系统错误"})
        else:
            self.answer(status, payload, wrong_key=fault == "bad_signature")

    def do_GET(self) -> None:
        if not self.path.startswith(QUERY_PREFIX):
            self.answer(404, {"code": "NOT_FOUND", "message": self.path})
            return
        if not self._authorized("GET", b""):
            return
        provider = self.provider
        fault = provider.query_faults.pop(0) if provider.query_faults else ""
        if fault == "hang":
            time.sleep(provider.hang_s)
            self.drop()
            return
        if fault in _FAULT_STATUS:
            self.answer(_FAULT_STATUS[fault], {"code": fault, "message": "请稍后重试"})
            return
        bill = provider.bills.get(self.path.removeprefix(QUERY_PREFIX))
        if bill is None:
            self.answer(404, {"code": "NOT_FOUND", "message": "记录不存在"})
        else:
            self.answer(200, dict(bill), wrong_key=fault == "bad_signature")
