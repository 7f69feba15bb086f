"""``pledge demo``'s last step: people who can sign in to the console and the customer page."""

from __future__ import annotations

import time

from pledge.adapters.sqlalchemy.api_store import ApiStore
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


def console_people(app: App, db_file: str) -> dict[str, str]:
    """Create one key per person (valid 30 days) and print them; returns name → secret."""
    store = ApiStore(app.engine)
    now = time.time_ns() // 1_000
    expires = now + 30 * 86_400 * 1_000_000
    secrets: dict[str, str] = {}
    for name, scope, account in DEMO_PEOPLE:
        _, secret = store.create_key(
            scope=scope, name=name, account_id=account, expires_at_us=expires, now_us=now
        )
        secrets[name] = secret
    step(
        "C",
        "The web console",
        "Run [bold]pledge serve[/] in this folder (with no pledge.db here it serves this demo database),\n"
        "open http://127.0.0.1:8000/console and sign in with a key below. Try scenario A from the browser:\n"
        "ops.li applies a copy of founders-refund and runs the dry run, finance.wang approves it, ops.zhao\n"
        "launches and runs it; then the customer opens their red envelope at http://127.0.0.1:8000/me.",
    )
    # One key per line, never in a table: a table squeezes them into "pk_live_…" on a narrow terminal.
    for name, scope, _ in DEMO_PEOPLE:
        where = "/me" if scope == "customer" else "/console"
        out.print(f"  {name} ({scope}, signs in at {where}), key shown once:", markup=False)
        out.print(f"    {secrets[name]}", markup=False, soft_wrap=True)
    out.print(f"  (keys expire in 30 days; make more with `pledge keys create --db sqlite:///{db_file}`)")
    return secrets
