"""Selection where the history lives (ADR 29): ``campaign select`` and ``campaign simulate --engine``.

``campaign select`` runs the approved terms' window and rule on an engine and writes the
candidate set with its manifest; ``campaign run --candidates`` (``issue.run_campaign``) issues
from it. The dry run on an engine reads the purchases there (scans, near misses, the candidates)
and decides with the very planner, limits, grants so far and promise group in Pledge's database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pledge.domain.benefit import Benefit
from pledge.domain.campaign import CashbackTerms
from pledge.domain.errors import InputError
from pledge.domain.timeutil import format_instant
from pledge.usecases.candidate_sets import FORMAT
from pledge.usecases.common import effective_version, require_campaign, selection_for, terms_of
from pledge.usecases.engine_ports import CandidateSets, PurchaseScans, SelectionEngine
from pledge.usecases.ports import Clock, RuleCompiler, UnitOfWork, UnitOfWorkFactory
from pledge.usecases.scan_ports import NearMiss, PreparedCandidates, ScanCounts, Selection

ORDER = "purchased_at_us, purchase_id (UTF-8 bytes)"


@dataclass(frozen=True, slots=True)
class CandidateSetWritten:
    """What ``campaign select`` wrote: ``rows`` candidates of terms ``version`` in directory ``out``."""

    campaign: str
    version: int
    rows: int
    out: str


def select_candidates(
    uow_factory: UnitOfWorkFactory,
    rules: RuleCompiler,
    clock: Clock,
    campaign_id: str,
    engine: SelectionEngine,
    sets: CandidateSets,
    out_dir: str,
) -> CandidateSetWritten:
    """Write the approved terms' candidate set to ``out_dir`` (new or empty) with its manifest."""
    target = Path(out_dir)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InputError(f"--out: {out_dir} must be a new or empty directory", param="out")
    with uow_factory() as uow:
        require_campaign(uow, campaign_id)
        version = effective_version(uow, campaign_id)
        terms = terms_of(version)
    selection = selection_for(terms, rules)
    snapshot = clock.now_us()
    target.mkdir(parents=True, exist_ok=True)
    written = engine.write_candidates(selection, str(target))
    manifest = {
        "format": FORMAT,
        "campaign": campaign_id,
        "terms_version": version.version,
        "content_hash": version.content_hash,
        "rule_sql": engine.rule_sql(selection),
        "window": {"start_us": selection.window.start_us, "end_us": selection.window.end_us},
        "engine": engine.name,
        "engine_version": engine.version(),
        "rows": written.rows,
        "snapshot_at": format_instant(snapshot),
        "snapshot_at_us": snapshot,
        "order": ORDER,
        "checksum": written.checksum,
        "files": list(written.files),
    }
    sets.write_manifest(str(target), manifest)
    return CandidateSetWritten(campaign_id, version.version, written.rows, str(target))


class EngineHistory:
    """``PurchaseScans`` on an engine: it scans; the candidates it selects are prepared in Pledge's
    database (``prepare_rows``), where the grants, budget and promise group are."""

    def __init__(self, engine: SelectionEngine, uow: UnitOfWork) -> None:
        self._engine, self._uow = engine, uow

    def scan(self, selection: Selection) -> ScanCounts:
        return self._engine.scan(selection)

    def near_misses(self, selection: Selection, limit: int) -> list[NearMiss]:
        return self._engine.near_misses(selection, limit)

    def overpaid(self, selection: Selection, benefit: Benefit, limit: int) -> tuple[int, list[str]]:
        return self._engine.overpaid(selection, benefit, limit)

    def prepare(
        self, selection: Selection, terms: CashbackTerms, *, count_issued: bool
    ) -> PreparedCandidates:
        return self._uow.purchases.prepare_rows(
            self._engine.candidates(selection), terms, count_issued=count_issued
        )


def on_engine(engine: SelectionEngine) -> Callable[[UnitOfWork], PurchaseScans]:
    """``simulate_campaign``'s ``history``: read the purchases on ``engine``."""
    return lambda uow: EngineHistory(engine, uow)
