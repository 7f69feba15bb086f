"""Where messages go, read from the environment in one place.

``PLEDGE_PUBLIC_URL`` (base of every link), ``PLEDGE_SMTP_URL`` (``smtp://[user:pass@]host:port`` or
``smtp+starttls://user:pass@host:port``), ``PLEDGE_MAIL_FROM`` (an address, optionally with a
display name) and ``PLEDGE_SMS_URL`` (``http[s]://KEY_ID:SECRET@host[:port][/base]?sign=NAME``, see
docs/sms-gateway.md). Each channel asks only for what it needs, and a missing or malformed variable
is named in the error with the form it should have.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from email.headerregistry import Address
from email.utils import parseaddr
from typing import Final
from urllib.parse import parse_qs, unquote, urlsplit

PUBLIC_URL_ENV: Final = "PLEDGE_PUBLIC_URL"
SMTP_URL_ENV: Final = "PLEDGE_SMTP_URL"
MAIL_FROM_ENV: Final = "PLEDGE_MAIL_FROM"
SMS_URL_ENV: Final = "PLEDGE_SMS_URL"
SMTP_SCHEMES: Final = {"smtp": False, "smtp+starttls": True}


class ConfigError(ValueError):
    """A notification setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    starttls: bool
    username: str
    password: str
    mail_from: Address


@dataclass(frozen=True, slots=True)
class SmsConfig:
    base_url: str  # without credentials or query
    key_id: str
    secret: str
    sign_name: str


def _required(environ: Mapping[str, str], name: str, example: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is not set (for example {name}={example})")
    return value


def public_url(environ: Mapping[str, str]) -> str:
    value = _required(environ, PUBLIC_URL_ENV, "https://pledge.example.com")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(
            f"{PUBLIC_URL_ENV}={value!r} is not a base URL like https://pledge.example.com"
            " (http or https, a host, no query)"
        )
    return value.rstrip("/")


def _port(name: str, value: str, raw: str) -> int:
    try:
        port = urlsplit(raw).port
    except ValueError:
        raise ConfigError(f"{name}={value!r} has a port that is not a number from 1 to 65535") from None
    if port is None:
        raise ConfigError(f"{name}={value!r} has no port (for example smtp://mail.example.com:25)")
    return port


def mail_from(environ: Mapping[str, str]) -> Address:
    value = _required(environ, MAIL_FROM_ENV, '"Pledge <noreply@example.com>"')
    display, address = parseaddr(value)
    local, _, domain = address.partition("@")
    if not local or "." not in domain or any(c.isspace() for c in address):
        raise ConfigError(
            f"{MAIL_FROM_ENV}={value!r} is not an address like noreply@example.com or "
            '"Pledge <noreply@example.com>"'
        )
    return Address(display_name=display, username=local, domain=domain)


def smtp(environ: Mapping[str, str]) -> SmtpConfig:
    value = _required(environ, SMTP_URL_ENV, "smtp+starttls://user:password@mail.example.com:587")
    parts = urlsplit(value)
    if parts.scheme not in SMTP_SCHEMES or not parts.hostname:
        raise ConfigError(
            f"{SMTP_URL_ENV}={value!r} is not smtp://host:port or smtp+starttls://user:pass@host:port"
        )
    port = _port(SMTP_URL_ENV, value, value)
    username, password = unquote(parts.username or ""), unquote(parts.password or "")
    if bool(username) != bool(password):
        raise ConfigError(f"{SMTP_URL_ENV}={value!r} names a user without a password or the reverse")
    return SmtpConfig(
        parts.hostname, port, SMTP_SCHEMES[parts.scheme], username, password, mail_from(environ)
    )


def sms(environ: Mapping[str, str]) -> SmsConfig:
    value = _required(environ, SMS_URL_ENV, "https://KEY_ID:SECRET@sms.example.com?sign=Pledge")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{SMS_URL_ENV}={value!r} is not an http(s) URL")
    if not parts.username or not parts.password:
        raise ConfigError(f"{SMS_URL_ENV}={value!r} has no KEY_ID:SECRET@ before the host")
    signs = parse_qs(parts.query).get("sign", [])
    if len(signs) != 1 or not signs[0].strip():
        raise ConfigError(f"{SMS_URL_ENV}={value!r} has no ?sign=NAME (the approved sender name)")
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(
            f"{SMS_URL_ENV}={value!r} has a port that is not a number from 1 to 65535"
        ) from None
    netloc = parts.hostname if port is None else f"{parts.hostname}:{port}"
    base = f"{parts.scheme}://{netloc}{parts.path}".rstrip("/")
    return SmsConfig(base, unquote(parts.username), unquote(parts.password), signs[0].strip())
