"""The rails' configuration, read from the environment (CONTRACT.md, "Rails").

Every missing or unreadable setting is an error naming the variable, raised
when the rail is built, not at the first transfer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

from pledge.domain.errors import InputError
from pledge.domain.payouts import WALLET, WECHAT_TRANSFER
from pledge.domain.rates import Rate

WECHAT_DEFAULT_BASE_URL: Final = "https://api.mch.weixin.qq.com"
WECHAT_DEFAULT_SCENE_ID: Final = "1000"  # cash marketing (现金营销)
NOT_CONFIGURED: Final = "payout_rail_not_configured"
RATE_ENV: Final = {WALLET: "PLEDGE_WALLET_RATE", WECHAT_TRANSFER: "PLEDGE_WECHAT_RATE"}


@dataclass(frozen=True, slots=True)
class WalletConfig:
    url: str
    secret: bytes


@dataclass(frozen=True, slots=True)
class WechatConfig:
    base_url: str
    mchid: str
    appid: str
    private_key: RSAPrivateKey  # the merchant's API key: signs our requests
    cert_serial: str  # its certificate's serial, named in every request
    platform_public_key: RSAPublicKey  # WeChat's: verifies replies and callbacks
    platform_public_key_id: str  # PUB_KEY_ID_...: the Wechatpay-Serial WeChat signs with
    apiv3_key: bytes  # 32 bytes: decrypts callback resources
    scene_id: str
    notify_url: str  # empty: no callbacks, results come from queries


def _required(env: Mapping[str, str], name: str, rail: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise InputError(f"{name} is not set; the {rail} rail needs it", code=NOT_CONFIGURED, param=name)
    return value


def _pem(env: Mapping[str, str], name: str, rail: str) -> bytes:
    path = Path(_required(env, name, rail))
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(
            f"{name}: cannot read the PEM file {path}: {exc.strerror}", code=NOT_CONFIGURED, param=name
        ) from exc


def wallet_config(env: Mapping[str, str]) -> WalletConfig:
    url = _required(env, "PLEDGE_WALLET_URL", "wallet").rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise InputError(
            f"PLEDGE_WALLET_URL: {url!r} is not an http(s) URL",
            code=NOT_CONFIGURED,
            param="PLEDGE_WALLET_URL",
        )
    return WalletConfig(url=url, secret=_required(env, "PLEDGE_WALLET_SECRET", "wallet").encode())


def wechat_config(env: Mapping[str, str]) -> WechatConfig:
    rail = "wechat_transfer"
    try:
        private_key = load_pem_private_key(_pem(env, "PLEDGE_WECHAT_PRIVATE_KEY", rail), password=None)
    except ValueError as exc:
        raise InputError(
            "PLEDGE_WECHAT_PRIVATE_KEY: not an unencrypted PEM private key",
            code=NOT_CONFIGURED,
            param="PLEDGE_WECHAT_PRIVATE_KEY",
        ) from exc
    try:
        public_key = load_pem_public_key(_pem(env, "PLEDGE_WECHAT_PUBLIC_KEY", rail))
    except ValueError as exc:
        raise InputError(
            "PLEDGE_WECHAT_PUBLIC_KEY: not a PEM public key",
            code=NOT_CONFIGURED,
            param="PLEDGE_WECHAT_PUBLIC_KEY",
        ) from exc
    if not isinstance(private_key, RSAPrivateKey) or not isinstance(public_key, RSAPublicKey):
        raise InputError(
            "PLEDGE_WECHAT_PRIVATE_KEY / PLEDGE_WECHAT_PUBLIC_KEY: WeChat Pay v3 keys are RSA keys",
            code=NOT_CONFIGURED,
            param="PLEDGE_WECHAT_PRIVATE_KEY",
        )
    apiv3_key = _required(env, "PLEDGE_WECHAT_APIV3_KEY", rail).encode()
    if len(apiv3_key) != 32:
        raise InputError(
            "PLEDGE_WECHAT_APIV3_KEY: the APIv3 key is 32 characters",
            code=NOT_CONFIGURED,
            param="PLEDGE_WECHAT_APIV3_KEY",
        )
    public_url = env.get("PLEDGE_PUBLIC_URL", "").strip().rstrip("/")
    return WechatConfig(
        base_url=(env.get("PLEDGE_WECHAT_BASE_URL", "").strip() or WECHAT_DEFAULT_BASE_URL).rstrip("/"),
        mchid=_required(env, "PLEDGE_WECHAT_MCHID", rail),
        appid=_required(env, "PLEDGE_WECHAT_APPID", rail),
        private_key=private_key,
        cert_serial=_required(env, "PLEDGE_WECHAT_CERT_SERIAL", rail),
        platform_public_key=public_key,
        platform_public_key_id=_required(env, "PLEDGE_WECHAT_PUBLIC_KEY_ID", rail),
        apiv3_key=apiv3_key,
        scene_id=env.get("PLEDGE_WECHAT_SCENE_ID", "").strip() or WECHAT_DEFAULT_SCENE_ID,
        notify_url=f"{public_url}/v1/payouts/callbacks/wechat" if public_url else "",
    )


_WECHAT_ENV: Final = ("PLEDGE_WECHAT_BASE_URL", "PLEDGE_WECHAT_MCHID", "PLEDGE_WECHAT_APPID",
                      "PLEDGE_WECHAT_PRIVATE_KEY", "PLEDGE_WECHAT_CERT_SERIAL", "PLEDGE_WECHAT_PUBLIC_KEY",
                      "PLEDGE_WECHAT_PUBLIC_KEY_ID", "PLEDGE_WECHAT_APIV3_KEY", "PLEDGE_WECHAT_SCENE_ID",
                      "PLEDGE_PUBLIC_URL")  # fmt: skip
_KEY_FILES: Final = ("PLEDGE_WECHAT_PRIVATE_KEY", "PLEDGE_WECHAT_PUBLIC_KEY")  # a key rotated in place


def _modified_ns(path: str) -> int:
    try:
        return Path(path.strip()).stat().st_mtime_ns if path.strip() else 0
    except OSError:
        return 0


def cached_wechat_config(env: Mapping[str, str]) -> WechatConfig:
    """:func:`wechat_config`, loaded again only when a setting or a key file changes.

    Loading the RSA private key checks it and takes milliseconds: too much to do for every
    completion notice (``pledge serve``) or every request."""
    values = tuple(env.get(name, "") for name in _WECHAT_ENV)
    files = tuple(_modified_ns(env.get(name, "")) for name in _KEY_FILES)
    return _wechat_config_of(values, files)


@lru_cache(maxsize=4)
def _wechat_config_of(values: tuple[str, ...], files: tuple[int, ...]) -> WechatConfig:
    del files  # part of the cache key only
    return wechat_config(dict(zip(_WECHAT_ENV, values, strict=True)))


def rail_rates(env: Mapping[str, str]) -> dict[str, Rate]:
    """Each rail's request rate as configured (``PLEDGE_WALLET_RATE=50/s``); an unset rail has none."""
    rates: dict[str, Rate] = {}
    for rail, name in RATE_ENV.items():
        value = env.get(name, "").strip()
        if value:
            rates[rail] = Rate.parse(value, name)
    return rates
