"""POST /v1/payouts/callbacks/wechat: WeChat Pay's signed completion notice of a merchant transfer.

Not authenticated by an API key but by WeChat's signature (``Wechatpay-Signature`` over
timestamp, nonce and body, verified with the platform public key; the resource decrypted with the
APIv3 key). A notice that is not signed by WeChat is answered 401 and has no effect; WeChat
redelivers until it is answered 2xx, so a notice about a bill we do not hold, a stale one, or one
that disagrees with the stored transfer is answered 204 too (and the disagreement recorded for a
person), never applied. The notice is applied through the same path as ``payouts sync`` (ADR 27).
"""

from __future__ import annotations

import os

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from pledge.adapters.payouts.config import cached_wechat_config
from pledge.adapters.payouts.wechat import CALLBACK_UNSIGNED, parse_transfer_callback
from pledge.domain.errors import InputError
from pledge.domain.payouts import WECHAT_TRANSFER
from pledge.entrypoints.web.context import context
from pledge.entrypoints.web.errors import ApiError
from pledge.usecases.payout_callbacks import BillNotice, receive_bill_notice

router = APIRouter(prefix="/v1/payouts", tags=["payouts"])
MAX_NOTICE_BYTES = 64 * 1024  # a notice is well under 2 KB


@router.post("/callbacks/wechat", status_code=204, include_in_schema=False)
async def wechat_transfer_callback(request: Request) -> Response:
    ctx = context(request)
    body = await request.body()
    if len(body) > MAX_NOTICE_BYTES:
        raise ApiError(413, "invalid_request_error", "body_too_large", "a WeChat notice is at most 64 KB")
    config = cached_wechat_config(os.environ)
    now_s = ctx.clock.now_us() // 1_000_000
    try:
        callback = parse_transfer_callback(config, dict(request.headers), body, now_s=now_s)
    except InputError as exc:
        if exc.code == CALLBACK_UNSIGNED:
            raise ApiError(401, "authentication_error", exc.code, exc.message) from exc
        raise
    notice = BillNotice(
        WECHAT_TRANSFER, callback.request_id, callback.amount_minor, callback.openid, callback.answer
    )
    await run_in_threadpool(receive_bill_notice, ctx.app.uow, ctx.app.clock, notice)
    return Response(status_code=204)
