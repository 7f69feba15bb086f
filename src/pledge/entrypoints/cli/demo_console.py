"""``pledge demo``'s last step: people who can sign in to the console and the customer page."""

from __future__ import annotations

from pledge.adapters.sqlalchemy.api_store import ApiKey, ApiStore
from pledge.bootstrap import App
from pledge.entrypoints.cli.demo_steps import step
from pledge.entrypoints.cli.options import out

# (name, scope, account): a person per role, and one customer whose envelope a new run will issue.
DEMO_PEOPLE = (
    ("ops.li", "admin", None),
    ("finance.wang", "approver", None),
    ("ops.zhao", "operator", None),
    ("cs.chen", "support", None),
    ("fin.qian", "finance", None),
    ("demo-last-second", "customer", "demo-last-second"),
)


def demo_people(app: App) -> dict[str, tuple[ApiKey, str]]:
    """One key per person (valid 30 days): name → (key, secret). Scenario A acts with these keys."""
    store = ApiStore(app.engine)
    now = app.wall_clock.now_us()
    expires = now + 30 * 86_400 * 1_000_000
    return {
        name: store.create_key(scope=scope, name=name, account_id=account, expires_at_us=expires, now_us=now)
        for name, scope, account in DEMO_PEOPLE
    }


def console_people(people: dict[str, tuple[ApiKey, str]], db_file: str) -> None:
    """Print the people's keys, to sign in to the console and the customer page."""
    step(
        "C",
        "The web console",
        "Run [bold]pledge serve[/] in this folder (with no pledge.db here it serves this demo database),\n"
        "open http://127.0.0.1:8000/console and sign in with a key below. Try scenario A from the browser:\n"
        "ops.li applies a copy of founders-refund and runs the dry run, finance.wang approves it, ops.zhao\n"
        "launches and runs it; then the customer opens their red envelope at http://127.0.0.1:8000/me.",
    )
    # One key per line, never in a table: a table squeezes them into "pk_live_…" on a narrow terminal.
    for name, (key, secret) in people.items():
        where = "/me" if key.scope == "customer" else "/console"
        out.print(f"  {name} ({key.scope}, signs in at {where}), key shown once:", markup=False)
        out.print(f"    {secret}", markup=False, soft_wrap=True)
    out.print(f"  (keys expire in 30 days; make more with `pledge keys create --db sqlite:///{db_file}`)")
