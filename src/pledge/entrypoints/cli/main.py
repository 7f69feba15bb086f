"""``pledge``: the entry point. ``pledge`` and ``pledge --help`` answer without importing a command.

Importing every command's module (the use cases, SQLAlchemy, PyArrow, DuckDB, FastAPI …) takes most
of a second; the list of commands needs none of it. So the root's own help is rendered by the same
Typer group class from the table below (each command's name and help, in the order registered),
and anything else runs the whole app (:mod:`pledge.entrypoints.cli.commands`) exactly as before
(ADR 33). A test renders both helps and compares them: a new command must be added here too.
"""

from __future__ import annotations

import sys
from typing import Any, Final

from typer._click.core import Command, Context  # the click Typer is built on (it vendors its own)
from typer.core import TyperCommand, TyperGroup

ROOT_HELP: Final = "Pledge keeps a company's promises to its customers."
# (name, help) of every command and group of the root, in registration order.
COMMANDS: Final = (
    ("init", "Create the schema, or upgrade it to this version of Pledge."),
    ("explain", "Why an account qualifies or not: every purchase, every condition."),
    ("quote", "Price a plan for an account now, with the breakdown a customer would read."),
    ("generate", "Write a seeded synthetic data set for scenario A (accounts + purchases)."),
    ("demo", "Run both seed scenarios step by step on a fresh SQLite file, explaining each step."),
    ("serve", "Serve the HTTP API under /v1 (OpenAPI at /openapi.json, docs at /docs) and the web console."),
    ("openapi", "Print the OpenAPI document (the checked-in docs/openapi.json is made with --out)."),
    ("schemas", "Print the JSON Schemas of campaign and plans files (docs/schemas is made with --out)."),
    ("campaign", "Author, check, approve, launch and run campaigns."),
    ("import", "Load accounts and purchases (CSV or Parquet), all or nothing."),
    ("grants", "List, open (claim), expire and revoke red envelopes; list claw-back cases."),
    ("ledger", "Check the ledger."),
    ("plans", "The catalog of subscription plans."),
    ("subscriptions", "Buy, renew, refund subscriptions; record auto-renew consent."),
    ("claims", "Claims for purchases missing from the records: submit, review, decide."),
    ("examples", "The example campaign and plan files (list them, or write copies to a folder)."),
    ("notify", "Tell a campaign's customers: plan, send after a cancellable hold, deliver, follow."),
    ("payouts", "Pay opened red envelopes: send what is due, ask about what is in flight, list transfers."),
    ("keys", "Create, list and revoke API keys."),
    ("webhooks", "Deliver webhook events."),
    ("audit", "Check the audit log (changes through the API, the console and the CLI)."),
)
_HELP: Final = dict(COMMANDS)
HELP_ONLY: Final = ((), ("--help",))  # the invocations answered from the table


class ListingGroup(TyperGroup):
    """The root as its help shows it: each command a name and its help, nothing imported."""

    def list_commands(self, ctx: Context) -> list[str]:
        return [name for name, _ in COMMANDS]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        text = _HELP.get(cmd_name)
        return None if text is None else TyperCommand(name=cmd_name, help=text)


def listing_root() -> TyperGroup:
    return ListingGroup(name="pledge", help=ROOT_HELP, no_args_is_help=True, rich_markup_mode="rich")


def main() -> None:
    if tuple(sys.argv[1:]) in HELP_ONLY:
        listing_root().main()
        return
    from pledge.entrypoints.cli.commands import app  # noqa: PLC0415 - the whole CLI, only when used

    app()


def __getattr__(name: str) -> Any:
    """``from pledge.entrypoints.cli.main import app``: the whole CLI, for tools and tests."""
    if name == "app":
        from pledge.entrypoints.cli.commands import app  # noqa: PLC0415 - loaded on demand (ADR 33)

        return app
    raise AttributeError(name)


__all__ = ["COMMANDS", "ROOT_HELP", "listing_root", "main"]
