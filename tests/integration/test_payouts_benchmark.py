"""The payouts benchmark runs end to end at a tiny size (no timed assertions: the numbers are reported)."""

from __future__ import annotations

from benchmarks.payouts import main


def test_the_payouts_benchmark_pays_every_transfer_and_its_floor_on_both_rails(db_url: str) -> None:
    result = main(["--grants", "6", "--db", db_url])
    assert result is not None
    for rail in result.rails:
        assert 0 < rail.planned <= 6 and rail.transfers >= rail.planned  # a grant below a minimum waits
        assert rail.floor_requests == rail.transfers
        assert rail.bills == 2 * rail.transfers  # the provider holds Pledge's transfers and the floor's
        assert rail.per_s > 0 and rail.floor_per_s > 0
