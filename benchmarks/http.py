"""HTTP under load: Pledge's busiest customer endpoints against a floor app, driven by wrk on loopback.

    python -m benchmarks.http --db sqlite --purchases 100000 --out docs/benchmarks.md
    python -m benchmarks.http --db postgresql://postgres@127.0.0.1:5432/test

It builds a campaign's grants (``pledge generate``, import, four-eyes, run), gives a sample of
customers their own keys, starts ``pledge serve --workers N`` and the floor app
(``benchmarks/http_floor.py``: the same framework, the same workers, an indexed lookup of the same
rows) on the same database, and runs wrk (Debian's ``wrk``) against each endpoint of each:

- the eligibility of one account (``GET /v1/accounts/{id}/eligibility``),
- one customer's grants (``GET /v1/grants?account=…``),
- opening a red envelope (``POST /v1/grants/{id}/claim``; the floor flips a copy of the grants).

Requests/s, p50 and p99 come from wrk's own latency histogram; a non-2xx answer is an error.
The per-key and per-account rate limits are raised out of the way: this measures throughput.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from benchmarks.common import CAMPAIGN_ID, ROOT, is_sqlite, postgres_schema, write_campaign
from benchmarks.report import Report, machine, text_table, write_markdown
from benchmarks.run import Bench, apply_and_approve

ENDPOINTS = {  # name → (Pledge's method and path, the floor's path)
    "eligibility": (
        "GET",
        f"/v1/accounts/{{account}}/eligibility?campaign={CAMPAIGN_ID}",
        "/floor/accounts/{account}/eligibility",
    ),
    "grants list": ("GET", "/v1/grants?account={account}", "/floor/grants?account={account}"),
    "claim": ("POST", "/v1/grants/{grant}/claim", "/floor/grants/{grant}/claim"),
}
TARGETS = {"eligibility": (0.5, 25.0), "grants list": (0.5, 25.0), "claim": (0.3, 50.0)}  # × floor, p99 ms
STEPS = tuple(s for name in ENDPOINTS for s in (f"{name} (Pledge)", f"floor: {name}"))
SAMPLE = 2_000  # customers with a key of their own
START_TIMEOUT_S = 120

# wrk picks a random customer per request from the targets file (key, account, grant per line).
LUA = """
local targets = {}
local method, template = "%s", "%s"
function init(args)
  for line in io.lines(args[1]) do
    local key, account, grant = line:match("(%%S+) (%%S+) (%%S+)")
    targets[#targets + 1] = {key, account, grant}
  end
  math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%%x+)"), 16) or 0))
end
function request()
  local t = targets[math.random(#targets)]
  local path = template:gsub("{account}", t[2]):gsub("{grant}", t[3])
  return wrk.format(method, path, {["Authorization"] = "Bearer " .. t[1]})
end
"""


@dataclass(frozen=True, slots=True)
class Load:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip()).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def parse_wrk(output: str) -> Load:
    """Requests/s, p50 and p99 (``--latency``), requests, and errors (sockets and non-2xx/3xx)."""
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, sockets.groups())) if sockets else 0)
    return Load(rate, p50, p99, requests, errors)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _serving(args: list[str], env: dict[str, str], probe: str, log: Path) -> Iterator[None]:
    with log.open("wb") as out:
        server = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=log.parent)
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                try:
                    httpx.get(probe, timeout=5)
                    break
                except httpx.TransportError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"{args[2:4]} did not start:\n{log.read_text()[-2000:]}") from None
                    time.sleep(0.2)
            yield
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _prepare(bench: Bench, rows: int, seed: int) -> Path:
    """A launched campaign with its grants issued, customer keys for a sample, the floor's table."""
    from sqlalchemy import text  # noqa: PLC0415

    from pledge.adapters.sqlalchemy.api_store import ApiStore  # noqa: PLC0415
    from pledge.bootstrap import App  # noqa: PLC0415

    work = bench.work
    files = bench.cli(
        None, "generate", str(work / "data"), "--purchases", str(rows), "--seed", str(seed), "--json"
    ).json()
    bench.cli(None, "init", "--json")
    bench.cli(None, "import", "accounts", files["accounts_file"], "--json")
    bench.cli(None, "import", "purchases", files["purchases_file"], "--json")
    operator = apply_and_approve(bench, write_campaign(work, rows))
    bench.cli(None, "campaign", "launch", CAMPAIGN_ID, "--key", operator, "--json")
    bench.cli(None, "campaign", "run", CAMPAIGN_ID, "--actor", "ops", "--json")
    app = App(bench.url)
    try:
        with app.engine.begin() as conn:
            sample = conn.execute(
                text(
                    "SELECT account_id, MIN(grant_id) FROM grants GROUP BY account_id ORDER BY account_id "
                    "LIMIT :n"
                ),
                {"n": SAMPLE},
            ).all()
            conn.execute(text("DROP TABLE IF EXISTS floor_grants"))
            conn.execute(
                text(
                    "CREATE TABLE floor_grants AS SELECT grant_id, account_id, campaign_id, "
                    "amount_minor, currency, state, claimed_at_us FROM grants"
                )
            )
            conn.execute(text("CREATE UNIQUE INDEX ix_floor_grants_id ON floor_grants (grant_id)"))
            conn.execute(text("CREATE INDEX ix_floor_grants_account ON floor_grants (account_id, grant_id)"))
        store = ApiStore(app.engine)
        now = time.time_ns() // 1000
        lines = []
        for account, grant in sample:
            _, secret = store.create_key(
                scope="customer", name=account, account_id=account, expires_at_us=None, now_us=now
            )
            lines.append(f"{secret} {account} {grant}\n")
    finally:
        app.close()
    targets = work / "targets.txt"
    targets.write_text("".join(lines), encoding="utf-8")
    return targets


def _wrk(
    url: str, method: str, path: str, targets: Path, work: Path, connections: int, duration_s: int
) -> Load:
    script = work / f"{abs(hash((method, path)))}.lua"
    script.write_text(LUA % (method, path), encoding="utf-8")
    args = [
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{duration_s}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
        "--",
        str(targets),
    ]
    _log(" ".join(args[:6]) + f" {url}{path}")
    done = subprocess.run(args, capture_output=True, text=True, check=True, timeout=duration_s + 120)
    return parse_wrk(done.stdout)


def measure(db: str, kind: str, rows: int, work: Path, options: argparse.Namespace, command: str) -> Report:
    name = "SQLite" if kind == "sqlite" else "PostgreSQL"
    report = Report(
        kind, rows, command, machine(db), steps=STEPS, title=f"HTTP under load, {name}", tag=f"http-{kind}"
    )
    bench = Bench(report, db, work, rows, diagnostics=False)
    targets = _prepare(bench, rows, options.seed)
    env = {
        **os.environ,
        "PLEDGE_DATABASE_URL": db,
        "PLEDGE_FLOOR_DB": db,
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
    }
    workers, rate = str(options.workers), "1000000/s"
    pledge_port, floor_port = _free_port(), _free_port()
    pledge = [
        sys.executable,
        "-m",
        "pledge",
        "serve",
        "--port",
        str(pledge_port),
        "--workers",
        workers,
        "--no-webhook-worker",
        "--rate-per-key",
        rate,
        "--rate-per-account",
        rate,
    ]
    floor = [sys.executable, "-m", "benchmarks.http_floor", "--port", str(floor_port), "--workers", workers]
    pledge_url, floor_url = f"http://127.0.0.1:{pledge_port}", f"http://127.0.0.1:{floor_port}"
    with (
        _serving(pledge, env, f"{pledge_url}/openapi.json", work / "pledge.log"),
        _serving(floor, env, f"{floor_url}/floor/grants?account=none", work / "floor.log"),
    ):
        for name, (method, path, floor_path) in ENDPOINTS.items():
            ours = _wrk(pledge_url, method, path, targets, work, options.connections, options.duration)
            base = _wrk(floor_url, method, floor_path, targets, work, options.connections, options.duration)
            _rows(report, name, ours, base, options)
    return report


def _rows(report: Report, name: str, ours: Load, base: Load, options: argparse.Namespace) -> None:
    share, p99_target = TARGETS[name]
    for step, load in ((f"{name} (Pledge)", ours), (f"floor: {name}", base)):
        row = report.row(step)
        row.rows, row.rate = load.requests, load.requests_per_s
        row.time = f"{options.duration} s"
        row.note = (
            f"p50 {load.p50_ms:.2f} ms, p99 {load.p99_ms:.2f} ms, {load.errors} errors; "
            f"{options.connections} connections, {options.workers} workers; rows = requests"
        )
    row = report.row(f"{name} (Pledge)")
    row.floor = f"{base.requests_per_s:,.0f} req/s"
    row.ratio = ours.requests_per_s / base.requests_per_s if base.requests_per_s else None
    row.target = f"≥ {share:g}× floor, p99 ≤ {p99_target:g} ms, no errors"
    row.met = row.ratio is not None and row.ratio >= share and ours.p99_ms <= p99_target and ours.errors == 0
    if ours.errors or base.errors:
        report.checks.append(f"{name}: {ours.errors} errors from Pledge, {base.errors} from the floor")


def main(argv: list[str] | None = None) -> Report:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m benchmarks.http", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--db", default="sqlite", help="sqlite, or a postgresql:// URL (a fresh schema is used)"
    )
    parser.add_argument("--purchases", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per endpoint and server")
    parser.add_argument("--seed", type=int, default=2011)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--workdir", type=Path)
    options = parser.parse_args(args_list)
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed (apt-get install wrk)")
    command = "python -m benchmarks.http " + " ".join(shlex.quote(a) for a in args_list)
    work = Path(tempfile.mkdtemp(prefix="pledge-http-", dir=options.workdir))
    try:
        if is_sqlite(options.db):
            report = measure(
                f"sqlite:///{work / 'pledge.db'}", "sqlite", options.purchases, work, options, command
            )
        else:
            with postgres_schema(options.db) as url:
                report = measure(url, "postgresql", options.purchases, work, options, command)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(text_table(report))
    if report.checks:
        print("\n".join(report.checks))
    if options.out is not None:
        write_markdown(options.out, report)
    return report


if __name__ == "__main__":
    main()
