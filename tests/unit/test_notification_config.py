"""Notification settings: each channel reads what it needs, and a bad value names its variable."""

from __future__ import annotations

import re

import pytest

from pledge.adapters.notifications import config
from pledge.adapters.notifications.config import ConfigError

FROM = {"PLEDGE_MAIL_FROM": "Pledge <noreply@pledge.example.com>"}


def test_smtp_urls_with_and_without_starttls_and_credentials() -> None:
    plain = config.smtp({"PLEDGE_SMTP_URL": "smtp://127.0.0.1:2525", **FROM})
    assert (plain.host, plain.port, plain.starttls, plain.username) == ("127.0.0.1", 2525, False, "")
    tls = config.smtp({"PLEDGE_SMTP_URL": "smtp+starttls://ops%40pledge:p%2Fss@mail.example.com:587", **FROM})
    assert (tls.host, tls.port, tls.starttls, tls.username, tls.password) == (
        "mail.example.com",
        587,
        True,
        "ops@pledge",
        "p/ss",
    )
    assert tls.mail_from.addr_spec == "noreply@pledge.example.com"
    assert tls.mail_from.display_name == "Pledge"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({**FROM}, "PLEDGE_SMTP_URL is not set"),
        ({"PLEDGE_SMTP_URL": "smtp://mail.example.com:25"}, "PLEDGE_MAIL_FROM is not set"),
        ({"PLEDGE_SMTP_URL": "smtps://mail.example.com:465", **FROM}, "PLEDGE_SMTP_URL='smtps://"),
        ({"PLEDGE_SMTP_URL": "smtp://mail.example.com", **FROM}, "has no port"),
        ({"PLEDGE_SMTP_URL": "smtp://mail.example.com:http", **FROM}, "port that is not a number"),
        ({"PLEDGE_SMTP_URL": "smtp://user@mail.example.com:25", **FROM}, "a user without a password"),
        (
            {"PLEDGE_SMTP_URL": "smtp://mail.example.com:25", "PLEDGE_MAIL_FROM": "noreply"},
            "PLEDGE_MAIL_FROM='noreply'",
        ),
    ],
)
def test_a_bad_smtp_setting_names_its_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        config.smtp(env)


def test_sms_url_carries_key_secret_and_sign_name() -> None:
    sms = config.sms(
        {"PLEDGE_SMS_URL": "https://key-1:s%3Dcret@sms.example.com:8443/gw/?sign=%E5%93%81%E7%89%8C"}
    )
    assert (sms.base_url, sms.key_id, sms.secret, sms.sign_name) == (
        "https://sms.example.com:8443/gw",
        "key-1",
        "s=cret",
        "品牌",
    )
    for value, message in [
        ("", "PLEDGE_SMS_URL is not set"),
        ("ftp://k:s@sms.example.com?sign=x", "is not an http"),
        ("https://sms.example.com?sign=x", "no KEY_ID:SECRET@"),
        ("https://k:s@sms.example.com", "no ?sign=NAME"),
    ]:
        with pytest.raises(ConfigError, match=re.escape(message)):
            config.sms({"PLEDGE_SMS_URL": value})


def test_public_url() -> None:
    assert (
        config.public_url({"PLEDGE_PUBLIC_URL": "https://pledge.example.com/"})
        == "https://pledge.example.com"
    )
    with pytest.raises(ConfigError, match="PLEDGE_PUBLIC_URL is not set"):
        config.public_url({})
    with pytest.raises(
        ConfigError, match=re.escape("PLEDGE_PUBLIC_URL='pledge.example.com' is not a base URL")
    ):
        config.public_url({"PLEDGE_PUBLIC_URL": "pledge.example.com"})


def test_channels_are_built_only_from_what_they_need() -> None:
    from pledge.adapters.notifications.channels import channels_from_env
    from pledge.domain.notifications import Channel

    env = {"PLEDGE_SMTP_URL": "smtp://127.0.0.1:2525", **FROM}
    built = channels_from_env(env, [Channel.EMAIL])  # no SMS settings needed for email alone
    assert [c.channel for c in built.values()] == [Channel.EMAIL]
    with pytest.raises(ConfigError, match="PLEDGE_SMS_URL is not set"):
        channels_from_env(env)
