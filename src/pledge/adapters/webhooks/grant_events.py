"""``grant.expired`` events for a whole expiry batch, written by the database (ADR 17).

The object is ``usecases.grants.grant_json`` of the expired grant in canonical JSON (sorted keys, no
spaces, UTF-8), built by SQL over the batch's rows: amounts formatted by currency exponent, the
few distinct instants of a batch formatted here once and joined. So a 10 M-grant expiry with a
listener writes its events at the database's speed, not one Python object per grant.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from pledge.adapters.webhooks.store import Outbox
from pledge.domain.money import CURRENCY_EXPONENTS
from pledge.domain.timeutil import format_instant

_INSTANTS = "pledge_event_instants"  # a temporary table: µs -> ISO 8601, for this batch


def emit_expired(conn: Connection, outbox: Outbox, batch: str) -> int:
    """One ``grant.expired`` per grant of ``batch`` (a ``(SELECT … FROM grants …)``), if listened for."""
    if not outbox.listens("grant.expired"):
        return 0
    _load_instants(conn, batch)
    source = (
        f"(SELECT g.*, i.iso AS issued_iso, e.iso AS expires_iso FROM {batch} AS g "
        f"JOIN {_INSTANTS} i ON i.us = g.issued_at_us JOIN {_INSTANTS} e ON e.us = g.expires_at_us)"
    )
    return outbox.emit_select("grant.expired", source, _grant_json(conn), "grant_id")


def _load_instants(conn: Connection, batch: str) -> None:
    """The batch's issue and expiry instants (one or two per campaign run), formatted as Python does."""
    pg = conn.dialect.name == "postgresql"
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {_INSTANTS} (us BIGINT PRIMARY KEY, iso VARCHAR(40))"
        + (" ON COMMIT DELETE ROWS" if pg else "")
    )
    conn.exec_driver_sql(f"DELETE FROM {_INSTANTS}")
    found = conn.execute(
        text(f"SELECT issued_at_us FROM {batch} AS a UNION SELECT expires_at_us FROM {batch} AS b")
    ).scalars()
    rows = [{"us": int(us), "iso": format_instant(int(us))} for us in found]
    if rows:
        conn.execute(text(f"INSERT INTO {_INSTANTS} (us, iso) VALUES (:us, :iso)"), rows)


def _grant_json(conn: Connection) -> str:
    """SQL for ``canonical_json(grant_json(grant))`` of an expired grant (keys in sorted order)."""
    pg = conn.dialect.name == "postgresql"

    def quoted(column: str) -> str:  # a JSON string, escaped by the database's own JSON functions
        return f"CAST(to_json(CAST({column} AS TEXT)) AS TEXT)" if pg else f"json_quote({column})"

    # claimed_at and revoked_* are always null: only an unopened (issued, never claimed nor revoked)
    # grant expires. "\\:" keeps text() from reading ":null" as a parameter.
    return (
        f"""'{{"account_id":' || {quoted("account_id")} || ',"amount":"' || {_amount(pg)} || """
        f"""'","campaign":' || {quoted("campaign_id")} || ',"claimed_at"\\:null,"currency":' || """
        f"""{quoted("currency")} || ',"expires_at":"' || expires_iso || '","id":' || """
        f"""{quoted("grant_id")} || ',"issued_at":"' || issued_iso || '","object":"grant","purchase_id":' """
        f"""|| {quoted("purchase_id")} || ',"revoked_at"\\:null,"revoked_reason"\\:null,"state":' || """
        f"""{quoted("state")} || ',"terms_version":' || """
        f"""CAST(terms_version AS TEXT) || ',"tier":' || COALESCE({quoted("tier")}, 'null') || '}}'"""
    )


def _amount(pg: bool) -> str:
    """``format_minor(amount_minor, currency)`` for a positive amount (the grants' CHECK)."""
    cases = []
    for currency, exponent in sorted(CURRENCY_EXPONENTS.items()):
        if exponent == 0:
            formatted = "CAST(amount_minor AS TEXT)"
        else:
            unit = 10**exponent
            fraction = f"CAST(amount_minor % {unit} AS TEXT)"
            padded = (
                f"lpad({fraction}, {exponent}, '0')"
                if pg
                else f"substr('{'0' * exponent}' || {fraction}, -{exponent})"
            )
            formatted = f"CAST(amount_minor / {unit} AS TEXT) || '.' || {padded}"
        cases.append(f"WHEN '{currency}' THEN {formatted}")
    return f"(CASE currency {' '.join(cases)} END)"
