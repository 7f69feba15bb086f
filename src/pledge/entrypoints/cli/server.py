"""``pledge serve``, ``keys``, ``webhooks deliver``, ``audit verify``, ``openapi`` and ``schemas``."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pledge.adapters.sqlalchemy.api_store import SCOPES, ApiKey, ApiStore
from pledge.adapters.sqlalchemy.database import DEFAULT_SQLITE_FILE
from pledge.adapters.webhooks.delivery import Deliverer
from pledge.adapters.webhooks.store import WebhookStore
from pledge.bootstrap import App
from pledge.domain.errors import InputError, NotFoundError
from pledge.domain.schemas import PUBLISHED, schema_text
from pledge.domain.timeutil import parse_duration_us, parse_instant
from pledge.entrypoints.cli.app import app
from pledge.entrypoints.cli.audited import cli_audit
from pledge.entrypoints.cli.options import (
    ActorOpt,
    DbOpt,
    JsonOpt,
    NowOpt,
    actor_name,
    app_for,
    emit,
    fail,
    out,
)

if TYPE_CHECKING:
    from pledge.entrypoints.workers import ServeConfig

keys = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
webhooks = typer.Typer(help="Deliver webhook events.", no_args_is_help=True)
audit = typer.Typer(
    help="Check the audit log (changes through the API, the console and the CLI).", no_args_is_help=True
)
app.add_typer(keys, name="keys")
app.add_typer(webhooks, name="webhooks")
app.add_typer(audit, name="audit")


def key_json(key: ApiKey, secret: str | None = None) -> dict[str, Any]:
    shown = key.state()
    if secret is not None:
        shown["secret"] = secret
    return shown


HostOpt = Annotated[str, typer.Option(help="Interface to listen on.")]
PortOpt = Annotated[int, typer.Option(help="TCP port.")]
NoWebhookWorkerOpt = Annotated[
    bool, typer.Option("--no-webhook-worker", help="Do not deliver webhooks from this process.")
]
NoNotifyWorkerOpt = Annotated[
    bool,
    typer.Option(
        "--no-notify-worker",
        help="Do not deliver notifications (held distributions, reminders) from this process; "
        "run `pledge notify deliver` on a schedule instead.",
    ),
]
NotifyIntervalOpt = Annotated[
    str, typer.Option(help="How often the notification worker runs a bounded `notify deliver`.")
]
IdempotencyRetentionOpt = Annotated[
    str,
    typer.Option(
        help="How long an Idempotency-Key is remembered (replayed, or refused for another request); "
        "after that it may name a new request.",
    ),
]
WorkersOpt = Annotated[
    int,
    typer.Option(
        min=1,
        max=64,
        help="Server processes. With more than one, rate limits are shared through the database.",
    ),
]
RatePerKeyOpt = Annotated[
    str, typer.Option(help="Claims and eligibility checks per API key, like 20/s or 1200/min.")
]
RatePerAccountOpt = Annotated[
    str, typer.Option(help="Claims and eligibility checks per customer account, like 2/s.")
]
KeyCacheOpt = Annotated[
    str,
    typer.Option(
        help="How long each process remembers a bearer key: a key revoked elsewhere (`pledge keys "
        "revoke`) is refused within this. 0s reads the key on every request.",
    ),
]


@app.command()
def serve(
    db: DbOpt = None,
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8000,
    now: NowOpt = None,
    workers_off: NoWebhookWorkerOpt = False,
    notify_off: NoNotifyWorkerOpt = False,
    notify_interval: NotifyIntervalOpt = "30s",
    idempotency_retention: IdempotencyRetentionOpt = "24h",
    workers: WorkersOpt = 1,
    rate_per_key: RatePerKeyOpt = "20/s",
    rate_per_account: RatePerAccountOpt = "2/s",
    key_cache: KeyCacheOpt = "5s",
) -> None:
    """Serve the HTTP API under /v1 (OpenAPI at /openapi.json, docs at /docs) and the web console."""
    # The API stack (FastAPI, uvicorn) loads only for the commands that serve it: every
    # other command starts as fast as before.
    import uvicorn  # noqa: PLC0415 - loaded only to serve (see above)

    from pledge.entrypoints import workers as serving  # noqa: PLC0415 - the web stack, on demand
    from pledge.entrypoints.server import create_app  # noqa: PLC0415 - the web stack, on demand

    db = db or _demo_database()
    with app_for(db, now) as pledge:
        config = _serve_config(
            pledge,
            now,
            webhook_worker=not workers_off,
            notify_worker=not notify_off,
            notify_interval=notify_interval,
            idempotency_retention=idempotency_retention,
            workers=workers,
            rate_per_key=rate_per_key,
            rate_per_account=rate_per_account,
            key_cache=key_cache,
        )
        out.print(f"Pledge API on http://{host}:{port}/v1 (database {pledge.engine.url.render_as_string()})")
        out.print(f"Console on http://{host}:{port}/console, customer page on http://{host}:{port}/me")
        if workers == 1:
            uvicorn.run(create_app(pledge, config.settings()), host=host, port=port, log_level="info")
            return
    out.print(f"{workers} processes; rate limits, idempotency and sessions shared through the database")
    serving.export(config)
    uvicorn.run(serving.FACTORY, factory=True, workers=workers, host=host, port=port, log_level="info")


def _serve_config(
    pledge: App,
    now: str | None,
    *,
    webhook_worker: bool,
    notify_worker: bool,
    notify_interval: str,
    idempotency_retention: str,
    workers: int,
    rate_per_key: str,
    rate_per_account: str,
    key_cache: str,
) -> ServeConfig:
    """What ``serve`` was told, checked and parsed (an in-memory database serves one process only)."""
    from pledge.entrypoints.web.ratelimit import Rate  # noqa: PLC0415 - the web stack, on demand
    from pledge.entrypoints.workers import ServeConfig  # noqa: PLC0415 - the web stack, on demand

    try:
        per_key = Rate.parse(rate_per_key, "--rate-per-key")
        per_account = Rate.parse(rate_per_account, "--rate-per-account")
    except InputError as exc:
        fail(exc)
    config = ServeConfig(
        db=pledge.url,
        now_us=parse_instant(now, param="--now") if now else None,
        webhook_worker=webhook_worker,
        notify_worker=notify_worker,
        notify_interval_s=parse_duration_us(notify_interval, param="--notify-interval") / 1_000_000,
        idempotency_retention_s=parse_duration_us(idempotency_retention, param="--idempotency-retention")
        / 1_000_000,
        rate_per_key=(per_key.per_second, per_key.burst),
        rate_per_account=(per_account.per_second, per_account.burst),
        workers=workers,
        key_cache_s=0.0
        if key_cache.strip() in ("0", "0s")
        else parse_duration_us(key_cache, param="--key-cache") / 1_000_000,
    )
    if workers > 1 and pledge.engine.url.database in (None, "", ":memory:"):
        fail(InputError("--workers: an in-memory database cannot be shared by processes", param="--workers"))
    return config


def _demo_database() -> str | None:
    """After `pledge demo`, a bare `pledge serve` in the same folder serves the demo's database."""
    if os.environ.get("PLEDGE_DATABASE_URL") or Path(DEFAULT_SQLITE_FILE).exists():
        return None
    demo = Path("pledge-demo.db")
    if not demo.exists():
        return None
    out.print(f"No {DEFAULT_SQLITE_FILE} here: serving the demo database {demo} (use --db to choose)")
    return f"sqlite:///{demo.resolve()}"


@keys.command("create")
def keys_create(
    scope: Annotated[str, typer.Option(help=f"One of: {', '.join(SCOPES)}.")],
    account: Annotated[
        str | None, typer.Option("--account", help="The account a customer key acts for.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Who or what uses the key (shown in audit).")] = None,
    expires_in: Annotated[str | None, typer.Option(help="Lifetime like 30d or 12h.")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    secret_only: Annotated[
        bool,
        typer.Option(
            "--secret-only", help="Print the secret alone, for a shell variable: KEY=$(pledge keys create …)."
        ),
    ] = False,
    actor: ActorOpt = None,
) -> None:
    """Create a key; its secret is printed once and only its SHA-256 is stored."""
    with app_for(db) as pledge:
        if scope not in SCOPES:
            raise InputError(f"--scope: {scope!r} is not one of {', '.join(SCOPES)}", param="scope")
        if (scope == "customer") != (account is not None):
            raise InputError("--account: required for a customer key, and only for one", param="account")
        label = (name or f"{scope}-key").strip()
        if not label or len(label) > 80:
            raise InputError("--name: 1 to 80 characters", param="name")
        now = pledge.wall_clock.now_us()
        expires = now + parse_duration_us(expires_in, param="--expires-in") if expires_in else None
        audit = cli_audit(actor_name(actor), "api_key.create", "api_key:new")
        key, secret = ApiStore(pledge.engine).create_key(
            scope=scope, name=label, account_id=account, expires_at_us=expires, now_us=now, audit=audit
        )
        if secret_only:
            print(secret)  # plain stdout: no markup, no wrapping, whatever the terminal's width
            return
        emit(
            key_json(key, secret),
            as_json,
            lambda k: out.print(
                f"{k['id']} ({k['scope']}): [bold]{k['secret']}[/]\nStore it now: it is not shown again."
            ),
        )


@keys.command("list")
def keys_list(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """List keys (never their secrets)."""
    with app_for(db) as pledge:
        listed = {"object": "list", "data": [key_json(k) for k in ApiStore(pledge.engine).list_keys()]}

        def human(result: dict[str, Any]) -> None:
            for k in result["data"]:
                out.print(
                    f"{k['id']}  {k['scope']:<9} {k['name']}  {k['prefix']}…  revoked={k['revoked_at']}"
                )

        emit(listed, as_json, human)


@keys.command("revoke")
def keys_revoke(key_id: str, db: DbOpt = None, as_json: JsonOpt = False, actor: ActorOpt = None) -> None:
    """Revoke a key at once (requests with it get 401)."""
    with app_for(db) as pledge:
        audit = cli_audit(actor_name(actor), "api_key.revoke", f"api_key:{key_id}")
        key = ApiStore(pledge.engine).revoke_key(key_id, pledge.wall_clock.now_us(), audit)
        if key is None:
            raise NotFoundError(f"API key {key_id} does not exist", code="api_key_not_found", param="key_id")
        emit(key_json(key), as_json, lambda k: out.print(f"{k['id']} revoked at {k['revoked_at']}"))


@webhooks.command("deliver")
def webhooks_deliver(
    db: DbOpt = None,
    as_json: JsonOpt = False,
    loop: Annotated[bool, typer.Option("--loop", help="Keep delivering until interrupted.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between passes with --loop.")] = 2.0,
) -> None:
    """Send due webhook events (signed, retried with exponential backoff)."""
    with app_for(db) as pledge:
        deliverer = Deliverer(WebhookStore(pledge.engine))
        totals = {"delivered": 0, "retrying": 0, "failed": 0}
        try:
            while True:
                for name, n in deliverer.deliver_due().items():
                    totals[name] += n
                if not loop:
                    break
                time.sleep(interval)
        except KeyboardInterrupt:
            pass
        finally:
            deliverer.close()
        emit(totals, as_json, lambda t: out.print(", ".join(f"{k} {v}" for k, v in t.items())))


@audit.command("verify")
def audit_verify(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Recompute the audit log's hash chain (exit 1 if it was edited)."""
    with app_for(db) as pledge:
        result = ApiStore(pledge.engine).verify_audit()
        emit(
            result,
            as_json,
            lambda r: out.print(
                ("[green]audit ok[/]" if r["ok"] else "[red]audit BROKEN[/]")
                + f": {r['entries']:,} entries"
                + "".join(f"\n  {p}" for p in r["problems"])
            ),
        )
        if not result["ok"]:
            raise typer.Exit(1)


@app.command()
def openapi(
    out_file: Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout.")] = None,
) -> None:
    """Print the OpenAPI document (the checked-in docs/openapi.json is made with --out)."""
    from pledge.entrypoints.server import create_app, openapi_document  # noqa: PLC0415 - the web stack, on demand

    try:
        pledge = App("sqlite://")  # never connected: only the routes are needed
        text = openapi_document(create_app(pledge))
        pledge.close()
    except Exception as exc:
        fail(exc)
    if out_file is None:
        typer.echo(text, nl=False)
    else:
        out_file.write_text(text, encoding="utf-8")


@app.command()
def schemas(
    out_dir: Annotated[Path | None, typer.Option("--out", help="Write NAME.schema.json files here.")] = None,
) -> None:
    """Print the JSON Schemas of campaign and plans files (docs/schemas is made with --out)."""
    if out_dir is None:
        typer.echo(json.dumps(PUBLISHED, indent=2, ensure_ascii=False))
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in PUBLISHED:
        (out_dir / f"{name}.schema.json").write_text(schema_text(name), encoding="utf-8")
