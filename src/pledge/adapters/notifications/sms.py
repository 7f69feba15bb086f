"""SMS through a gateway modelled on the mainland providers (protocol in docs/sms-gateway.md).

A mainland SMS is never free text: the provider approves each template (and the sender's sign
name) in advance, and a message names the template's code and carries its values. Pledge sends
``POST {base}/v1/sms`` signed like its webhooks; the message id is the idempotency key, so a retry
after a timeout is answered with the first result instead of a second SMS.

Answers map to outcomes: 200 sent; 429 (per-number limits) and 422 ``outside_promotional_window``
retry after the time the gateway names; 5xx, timeouts and a refused signature retry (our side or
theirs, never the person's); other 4xx fail for good (template not approved, unsubscribed number).
"""

from __future__ import annotations

import json
from typing import Any, Final

import httpx

from pledge.adapters.notifications.config import SmsConfig
from pledge.domain.notifications import Channel, DeliveryResult, Outcome, Outgoing
from pledge.domain.timeutil import US_PER_SECOND
from pledge.webhooks import SIGNATURE_HEADER, sign

KEY_HEADER: Final = "Pledge-Key"
RETRYABLE_REFUSALS: Final = frozenset({401, 422, 429})


def sms_template_code(template_name: str, locale: str) -> str:
    """The code under which a template's text (in one language) is approved: ``PLEDGE_GRANT_ISSUED_ZH_CN``."""
    return f"PLEDGE_{template_name}_{locale}".upper().replace("-", "_")


def request_body(out: Outgoing, sign_name: str) -> dict[str, Any]:
    if out.channel is not Channel.SMS:
        raise ValueError(f"message {out.message_id} is for {out.channel}, not sms")
    return {
        "message_id": out.message_id,
        "phone": out.to,
        "sign_name": sign_name,
        "template_code": sms_template_code(out.template, out.locale),
        "params": dict(out.rendered.sms_params),
        "purpose": out.purpose.value,
        "recipient_timezone": out.recipient_timezone,
    }


class GatewaySmsChannel:
    channel: Final = Channel.SMS

    def __init__(
        self, config: SmsConfig, *, timeout_s: float = 10.0, client: httpx.Client | None = None
    ) -> None:
        self.config = config
        self._client = client or httpx.Client(timeout=timeout_s, follow_redirects=False)

    def close(self) -> None:
        self._client.close()

    def send(self, out: Outgoing) -> DeliveryResult:
        body = json.dumps(request_body(out, self.config.sign_name), ensure_ascii=False).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            KEY_HEADER: self.config.key_id,
            SIGNATURE_HEADER: sign(body, self.config.secret),
        }
        try:
            answer = self._client.post(f"{self.config.base_url}/v1/sms", content=body, headers=headers)
        except httpx.HTTPError as error:  # no answer: the same message id again is safe
            return DeliveryResult(
                Outcome.RETRY, "sms_gateway_unavailable", f"{type(error).__name__}: {error}"
            )
        return _result(answer)


def _result(answer: httpx.Response) -> DeliveryResult:
    status = answer.status_code
    try:
        payload = answer.json()
    except ValueError:
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    if status == 200:
        return DeliveryResult(Outcome.SENT, provider_ref=str(payload.get("gateway_ref", "")))
    found = payload.get("error")
    error: dict[str, Any] = found if isinstance(found, dict) else {}
    reason = str(error.get("code") or f"http_{status}")
    detail = str(error.get("message") or answer.reason_phrase)
    if status >= 500:
        return DeliveryResult(Outcome.RETRY, reason, detail)
    if status in RETRYABLE_REFUSALS:
        return DeliveryResult(Outcome.RETRY, reason, detail, retry_after_us=_retry_after_us(answer, error))
    return DeliveryResult(Outcome.FAILED, reason, detail)


def _retry_after_us(answer: httpx.Response, error: dict[str, Any]) -> int | None:
    seconds = error.get("retry_after_s", answer.headers.get("Retry-After"))
    try:
        return max(int(seconds), 0) * US_PER_SECOND if seconds is not None else None
    except (TypeError, ValueError):
        return None
