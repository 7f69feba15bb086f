"""The wechat_transfer rail: WeChat Pay API v3 merchant transfer to balance (商家转账, transfer-bills).

* Send: ``POST /v3/fund-app/mch-transfer/transfer-bills`` with ``out_bill_no``
  (our request id), ``transfer_amount`` in fen, the openid and the scene.
* Ask: ``GET /v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}``.
* Told: the ``MCHTRANSFER.BILL.FINISHED`` callback (:func:`parse_transfer_callback`).

How replies are read, following WeChat's own warning (on any non-200 reply
"do not change the bill number; query, and only when the query says it
failed, retry under a new one"):

* 200 with a signature we verify: its ``state``. ACCEPTED, PROCESSING,
  TRANSFERING and CANCELING are still in progress; WAIT_USER_CONFIRM waits for
  the customer (with ``package_info`` for the confirmation page); SUCCESS,
  FAIL (with ``fail_reason``) and CANCELLED are final; any other state is
  unknown.
* Any non-200 reply to a send, whatever its code (SYSTEM_ERROR, NOT_ENOUGH,
  FREQUENCY_LIMITED, PARAM_ERROR, INVALID_REQUEST, ...): ``unknown`` with the
  code as the reason. The bill may or may not exist; only a query tells.
* A query's 404 ``NOT_FOUND``: the bill was never created; resending the same
  bill number is safe.
* A reply whose signature does not verify, a timeout, a dropped connection, an
  unparsable body: ``unknown``. A query about our bill number showing another
  amount or openid: ``unknown`` (``id_conflict``), for a person.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

import httpx

from pledge.adapters.payouts import wechat_signing
from pledge.adapters.payouts.config import WechatConfig
from pledge.domain.errors import InputError
from pledge.domain.payout_transfers import Outcome, ProviderAnswer
from pledge.domain.payouts import WECHAT_TRANSFER
from pledge.usecases.payout_ports import TransferRequest

TRANSFER_PATH: Final = "/v3/fund-app/mch-transfer/transfer-bills"
QUERY_PATH: Final = TRANSFER_PATH + "/out-bill-no/{out_bill_no}"
FINISHED_EVENT: Final = "MCHTRANSFER.BILL.FINISHED"
CALLBACK_REJECTED: Final = "payout_callback_rejected"
CALLBACK_UNSIGNED: Final = "payout_callback_signature"  # not signed by WeChat's platform key: 401
DEFAULT_TIMEOUT_S: Final = 10.0
REMARK_MAX_CHARS: Final = 32  # transfer_remark and scene report contents: at most 32 characters

STATES: Final = {
    "ACCEPTED": Outcome.PROCESSING,
    "PROCESSING": Outcome.PROCESSING,
    "TRANSFERING": Outcome.PROCESSING,
    "CANCELING": Outcome.PROCESSING,
    "WAIT_USER_CONFIRM": Outcome.WAITING_USER,
    "SUCCESS": Outcome.SUCCEEDED,
    "FAIL": Outcome.FAILED,
    "CANCELLED": Outcome.CANCELLED,
}


def transfer_body(config: WechatConfig, request: TransferRequest) -> dict[str, Any]:
    """The transfer-bills body: a pure function of the request, so a resend is the same request."""
    remark = request.memo[:REMARK_MAX_CHARS]
    body: dict[str, Any] = {
        "appid": config.appid,
        "out_bill_no": request.request_id,
        "transfer_scene_id": config.scene_id,
        "openid": request.payee,
        "transfer_amount": request.amount_minor,
        "transfer_remark": remark,
        "user_recv_perception": "活动奖励",
        # what scene 1000 (cash marketing) requires to be reported with each transfer
        "transfer_scene_report_infos": [
            {"info_type": "活动名称", "info_content": remark},
            {"info_type": "奖励说明", "info_content": remark},
        ],
    }
    if config.notify_url:
        body["notify_url"] = config.notify_url
    return body


def _unknown(reason: str, detail: str = "") -> ProviderAnswer:
    return ProviderAnswer(Outcome.UNKNOWN, reason=reason, detail=detail[:500])


def answer_from_bill(bill: Mapping[str, Any], request: TransferRequest | None = None) -> ProviderAnswer:
    """Our reading of a transfer bill (a reply, a query, a decrypted callback)."""
    state = bill.get("state")
    outcome = STATES.get(state) if isinstance(state, str) else None
    if outcome is None:
        return _unknown(f"unknown_state:{state}")
    if request is not None:
        if bill.get("out_bill_no") != request.request_id:
            return _unknown("unreadable_reply", "the reply names another bill")
        for key, ours in (("transfer_amount", request.amount_minor), ("openid", request.payee)):
            if key in bill and bill[key] != ours:
                return _unknown("id_conflict", f"WeChat holds another {key} under this bill number")
    return ProviderAnswer(
        outcome,
        reason=str(bill.get("fail_reason") or ""),
        provider_ref=str(bill.get("transfer_bill_no") or ""),
        package_info=str(bill.get("package_info") or ""),
    )


class WechatTransferRail:
    def __init__(
        self,
        config: WechatConfig,
        *,
        client: httpx.Client | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._client = client or httpx.Client(timeout=timeout_s)
        self._clock = clock

    @property
    def name(self) -> str:
        return WECHAT_TRANSFER

    @property
    def config(self) -> WechatConfig:
        return self._config

    def close(self) -> None:
        self._client.close()

    def send(self, request: TransferRequest) -> ProviderAnswer:
        if request.currency != "CNY":
            raise InputError(
                f"transfer {request.request_id}: WeChat transfers pay CNY, not {request.currency}",
                code="payout_currency_unsupported",
                param="currency",
            )
        body = json.dumps(transfer_body(self._config, request), ensure_ascii=False, separators=(",", ":"))
        exchange = self._exchange("POST", TRANSFER_PATH, body.encode())
        if isinstance(exchange, ProviderAnswer):
            return exchange
        status, reply = exchange
        if status != 200:
            return _unknown(str(reply.get("code") or f"http_{status}"), str(reply.get("message", "")))
        return answer_from_bill(reply, request)

    def query(self, request: TransferRequest) -> ProviderAnswer:
        path = QUERY_PATH.format(out_bill_no=quote(request.request_id, safe=""))
        exchange = self._exchange("GET", path, b"")
        if isinstance(exchange, ProviderAnswer):
            return exchange
        status, reply = exchange
        if status == 404 and reply.get("code") == "NOT_FOUND":
            return ProviderAnswer(Outcome.NOT_FOUND)
        if status != 200:
            return _unknown(str(reply.get("code") or f"http_{status}"), str(reply.get("message", "")))
        return answer_from_bill(reply, request)

    def _exchange(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]] | ProviderAnswer:
        """One signed request; the status and the verified JSON reply, or why there is no answer."""
        config = self._config
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Wechatpay-Serial": config.platform_public_key_id,
            "Authorization": wechat_signing.authorization(
                private_key=config.private_key,
                mchid=config.mchid,
                serial=config.cert_serial,
                method=method,
                path=path,
                body=body,
                now_s=int(self._clock()),
            ),
        }
        try:
            response = self._client.request(method, config.base_url + path, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            return _unknown("timeout", str(exc))
        except httpx.TransportError as exc:
            return _unknown("no_answer", str(exc))
        distrust = wechat_signing.check_signed(
            config.platform_public_key,
            config.platform_public_key_id,
            response.headers,
            response.content,
            int(self._clock()),
        )
        if distrust:
            return _unknown(distrust, f"HTTP {response.status_code}")
        try:
            reply = response.json() if response.content else {}
        except ValueError:
            return _unknown("unreadable_reply", response.text)
        if not isinstance(reply, dict):
            return _unknown("unreadable_reply", response.text)
        return response.status_code, reply


@dataclass(frozen=True, slots=True)
class TransferCallback:
    notification_id: str  # WeChat's id of this notification; a redelivery repeats it
    request_id: str  # out_bill_no
    amount_minor: int
    openid: str
    answer: ProviderAnswer


def _rejected(reason: str, code: str = CALLBACK_REJECTED) -> InputError:
    return InputError(f"WeChat transfer callback refused: {reason}", code=code, param="body")


def parse_transfer_callback(
    config: WechatConfig, headers: Mapping[str, str], body: bytes, *, now_s: int
) -> TransferCallback:
    """A verified, decrypted MCHTRANSFER.BILL.FINISHED notification; refused when anything is off.

    The caller still checks amount and openid against its own transfer before
    applying the answer: a callback is a claim about a bill, not an order.
    """
    distrust = wechat_signing.check_signed(
        config.platform_public_key, config.platform_public_key_id, headers, body, now_s
    )
    if distrust:
        raise _rejected(distrust, CALLBACK_UNSIGNED)
    try:
        notice = json.loads(body)
    except ValueError as exc:
        raise _rejected("the body is not JSON") from exc
    if not isinstance(notice, dict) or notice.get("event_type") != FINISHED_EVENT:
        raise _rejected(f"not a {FINISHED_EVENT} notification")
    resource = notice.get("resource")
    plaintext = wechat_signing.decrypt_resource(
        config.apiv3_key, resource if isinstance(resource, dict) else {}
    )
    if plaintext is None:
        raise _rejected("the resource does not decrypt with the APIv3 key")
    try:
        bill = json.loads(plaintext)
    except ValueError as exc:
        raise _rejected("the decrypted resource is not JSON") from exc
    if not isinstance(bill, dict) or not isinstance(bill.get("out_bill_no"), str):
        raise _rejected("the resource names no out_bill_no")
    if bill.get("mchid") not in (None, config.mchid):
        raise _rejected("the bill belongs to another merchant")
    amount = bill.get("transfer_amount")
    return TransferCallback(
        notification_id=str(notice.get("id", "")),
        request_id=bill["out_bill_no"],
        amount_minor=amount if isinstance(amount, int) else -1,
        openid=str(bill.get("openid", "")),
        answer=answer_from_bill(bill),
    )
