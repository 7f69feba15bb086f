"""``/unsubscribe/{message_id}``: the link in every email's body and ``List-Unsubscribe`` header.

``POST`` (RFC 8058 one-click, what mail clients send with ``List-Unsubscribe=One-Click``, or the
button below) unsubscribes the message's account from that channel and purpose; repeating it
changes nothing. ``GET`` only shows the button: link scanners that follow every URL in a mail must
not unsubscribe anyone. The message id is unguessable; an unknown one is answered 404.
"""

from __future__ import annotations

from html import escape
from typing import Final

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from pledge.domain.errors import NotFoundError
from pledge.usecases.notify_unsubscribe import unsubscribe
from pledge.usecases.ports import Clock, UnitOfWorkFactory

_PAGE: Final = (
    '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title></head>'
    "<body><main><h1>{title}</h1>{body}</main></body></html>"
)
_ASK: Final = (
    "<p>不再接收此类消息？ / Stop receiving messages like this one?</p>"
    '<form method="post" action="/unsubscribe/{id}"><button type="submit">退订 / Unsubscribe</button></form>'
)
_DONE: Final = "<p>已退订，您将不再收到此类消息。 / You are unsubscribed from these messages.</p>"
_UNKNOWN: Final = "<p>此退订链接无效。 / This unsubscribe link is not known.</p>"


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=title, body=body), status_code=status)


def mount_unsubscribe(api: FastAPI, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
    async def ask(message_id: str) -> HTMLResponse:
        return _page("退订 / Unsubscribe", _ASK.format(id=escape(message_id, quote=True)))

    def one_click(message_id: str) -> HTMLResponse:
        try:
            unsubscribe(uow_factory, clock, message_id)
        except NotFoundError:
            return _page("退订 / Unsubscribe", _UNKNOWN, 404)
        return _page("退订 / Unsubscribe", _DONE)

    api.add_api_route("/unsubscribe/{message_id}", ask, methods=["GET"], include_in_schema=False)
    api.add_api_route("/unsubscribe/{message_id}", one_click, methods=["POST"], include_in_schema=False)
