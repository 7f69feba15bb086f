"""What every console page shares: who is signed in, forms with CSRF, rendering, audited actions."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment
from markupsafe import Markup

from pledge.domain.errors import InputError
from pledge.domain.money import parse_minor
from pledge.domain.schemas import UNKNOWN_FIELD, unknown_field_message
from pledge.entrypoints.console import fmt, words
from pledge.entrypoints.console.catalogue import MESSAGES
from pledge.entrypoints.console.i18n import LANG_COOKIE, negotiate, translate
from pledge.entrypoints.console.session import Session, Sessions, check_csrf, with_flash
from pledge.entrypoints.web.auth import Principal, check_permission
from pledge.entrypoints.web.context import ApiContext
from pledge.entrypoints.web.errors import ApiError
from pledge.entrypoints.web.inputs import check_text
from pledge.entrypoints.web.mutations import Call, UowFactory, finish_audit, request_id
from pledge.entrypoints.web.scopes import CUSTOMER, PERMISSIONS
from pledge.usecases.insights import Insights

Result = TypeVar("Result")  # what a use case run by ``audited`` returns

MAX_FIELDS = 40


class SignInRequired(Exception):
    def __init__(self, sign_in_url: str) -> None:
        super().__init__(sign_in_url)
        self.url = sign_in_url


class FormRefused(Exception):
    """A POST without the session's CSRF token, or from another origin: answered 403, nothing done."""


@dataclass
class Site:
    ctx: ApiContext
    env: Environment
    insights: Insights
    key_by_id: Callable[[str], Any]  # an ApiKey or None: the live key behind a session
    staff_sessions: Sessions
    customer_sessions: Sessions


@dataclass
class Visitor:
    """One request's view: locale, session, and (when signed in) the key it acts with."""

    request: Request
    site: Site
    sessions: Sessions
    session: Session
    locale: str
    principal: Principal | None = None
    form: dict[str, str] = field(default_factory=dict)

    @property
    def ctx(self) -> ApiContext:
        return self.site.ctx

    @property
    def actor(self) -> str:
        assert self.principal is not None
        return self.principal.actor

    @property
    def name(self) -> str:
        return self.principal.key.name if self.principal else ""

    @property
    def scope(self) -> str:
        return self.principal.key.scope if self.principal else ""

    def require(self, permission: str) -> Principal:
        """The signed-in principal, if its scope grants ``permission`` (else 403, as the API answers)."""
        if self.principal is None:
            raise SignInRequired("/console/sign-in")
        check_permission(self.principal, permission)
        return self.principal

    def may(self, permission: str) -> bool:
        return self.principal is not None and self.principal.key.scope in PERMISSIONS[permission]

    def t(self, key: str, **values: object) -> str:
        return translate(self.locale, key, **values)

    def money(self, amount: str | int | None, currency: str | None) -> str:
        return fmt.money(amount, currency, self.locale)

    def event(self, name: str) -> str:
        return words.event(self.locale, name)

    def refusal(self, code: str, message: str) -> str:
        return words.code_message(self.locale, code, message)

    def detail(self, condition: Mapping[str, Any], tz: str | None) -> str:
        return words.condition_detail(self.locale, condition, tz)


def customer_account(who: Visitor) -> str:
    """The signed-in customer's own account: every read and action on /me takes it from the key."""
    assert who.principal is not None
    account_id = who.principal.account_id
    if account_id is None:  # only customer keys sign in on /me; belt and braces
        raise refused(who.t("not_found"), 404, "not_found")
    return account_id


def _locale(request: Request) -> str:
    return negotiate(
        request.query_params.get("lang"),
        request.cookies.get(LANG_COOKIE),
        request.headers.get("accept-language"),
    )


def visitor(site: Site, request: Request, *, customer: bool, signed_in: bool = True) -> Visitor:
    """The request's visitor; redirects to sign-in when a live key is required and missing."""
    sessions = site.customer_sessions if customer else site.staff_sessions
    session = sessions.load(request)
    base = "/me" if customer else "/console"
    if session is None:
        session = sessions.new()
    who = Visitor(request, site, sessions, session, _locale(request))
    if session.key_id is not None:
        key = site.key_by_id(session.key_id)
        now = site.ctx.clock.now_us()
        if key is not None and key.usable(now) and (key.scope == CUSTOMER) == customer:
            who.principal = Principal(key)
            request.state.api_key_id = key.key_id
    if signed_in and who.principal is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(f"{base}/sign-in?next={quote(target, safe='')}")
    return who


def safe_next(target: str | None, base: str) -> str:
    """Only our own pages: a ``next`` or ``back`` elsewhere (another host, ``//evil``) goes home."""
    if not target:
        return base
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith(base) or target.startswith("//"):
        return base
    return target


def read_form(who: Visitor, body: bytes, *fields: str) -> dict[str, str]:
    """A url-encoded form, checked: same origin, the session's CSRF token, clean text, only ``fields``.

    ``csrf`` and ``back`` are every form's; a field the page does not read is refused (code
    ``unknown_field``) and the form goes back to its page with the reason, never half-read.
    """
    check_origin(who.request)
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError) as exc:
        raise FormRefused("form") from exc
    return accept_form(who, pairs, fields)


def check_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        expected = f"{request.url.scheme}://{request.headers.get('host', '')}"
        if origin != expected:
            raise FormRefused("origin")


def accept_form(who: Visitor, pairs: Iterable[tuple[str, str]], fields: Sequence[str]) -> dict[str, str]:
    """A form's text fields, checked as ``read_form`` says (whatever the body's encoding was)."""
    form: dict[str, str] = {}
    for name, value in pairs:
        check_text(name, "form field", max_length=64)
        check_text(value, name, max_length=200_000 if name == "document" else 2_000)
        form[name] = value
    if not check_csrf(who.session, form.get("csrf")):
        raise FormRefused("csrf")
    who.form = form
    base = "/me" if who.sessions is who.site.customer_sessions else "/console"
    who.request.state.back = safe_next(form.get("back"), base)
    known = ("csrf", "back", *fields)
    for name in form:
        if name not in known:
            message = unknown_field_message(name, name, known, "form field")
            raise InputError(message, param=name, code=UNKNOWN_FIELD)
    return form


def _campaign_zone(values: Mapping[str, Any]) -> str | None:
    """A campaign page's zone: that of its latest terms (``c`` is the campaign's detail)."""
    detail = values.get("c")
    if not isinstance(detail, Mapping) or not detail.get("versions"):
        return None
    zone = detail["versions"][-1]["document"].get("timezone")
    return str(zone) if zone else None


def render(who: Visitor, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    """The page; its times are shown in ``tz`` (given, or the campaign's), named on the page."""
    flash = who.session.flash
    values.setdefault("tz", _campaign_zone(values))
    page = who.site.env.get_template(template).render(
        who=who,
        t=who.t,
        money=who.money,
        fmt=fmt,
        why=lambda reason: why_text(who, reason),
        minor=parse_minor,
        messages=MESSAGES,
        flash=flash,
        csrf=who.session.csrf,
        path=who.request.url.path,
        query=who.request.url.query,
        **values,
    )
    response = HTMLResponse(page, status_code=status)
    if flash is not None or who.sessions.load(who.request) is None:
        session = Session(who.session.csrf, who.session.expires, who.session.key_id, None, who.session.extra)
        who.sessions.save(response, who.request, session)
    lang = who.request.query_params.get("lang")
    if lang in fmt.LOCALES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, path="/", samesite="strict")
    return response


def why_text(who: Visitor, reason: Mapping[str, Any]) -> str:
    """Why a qualifying purchase has no grant (``explain``'s ``why_no_grant``), in the visitor's words."""
    if who.locale == fmt.DEFAULT_LOCALE:
        return str(reason["message"])  # exactly what explain, the API and support say
    facts = {k: ", ".join(map(str, v)) if isinstance(v, list) else v for k, v in reason.items()}
    try:
        return who.t("why_" + str(reason["code"]), **facts)
    except KeyError:  # a reason without every fact its sentence names (a run recorded before them)
        return str(reason["message"])


def redirect(who: Visitor, target: str, flash: tuple[str, str] | None = None) -> Response:
    response = RedirectResponse(target, status_code=303)
    if flash is not None:
        who.sessions.save(response, who.request, with_flash(who.session, *flash))
    return response


def audited(
    who: Visitor, action: str, subject: str, fn: Callable[[UowFactory], Result], **extra: Any
) -> Result:
    """Run a use case as the API does: its audit entry and events in the change's own transaction."""
    assert who.principal is not None
    call = Call(who.ctx, who.principal, request_id(who.request), None, "")
    audit = call.audit(action, subject, **extra)
    result = fn(call.factory(audit))
    finish_audit(who.ctx, audit)
    return result


def refused(message: str, status: int = 409, code: str = "refused") -> ApiError:
    return ApiError(status, "refused_error", code, message)


def flat(document: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """A nested document as ``a.b.c → text`` rows, for side-by-side comparisons."""
    rows: dict[str, str] = {}
    for key, value in document.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            rows.update(flat(value, f"{name}."))
        elif isinstance(value, list):
            rows[name] = ", ".join(str(v) for v in value)
        else:
            rows[name] = "—" if value is None else str(value)
    return rows


def svg(markup: str) -> Markup:
    return Markup(markup)  # noqa: S704  (built by charts.py from escaped values only)
