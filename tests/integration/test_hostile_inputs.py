"""A hostile-input corpus at every POST endpoint of the published API and at every file reader.

Bombs, deep nesting, NUL bytes, over-long fields, invalid UTF-8, huge numbers and odd timestamps:
every one is answered below 500, within a second, and leaves every table as it was. The API is
driven as a client would (httpx against the ASGI app, on SQLite and PostgreSQL); the files go
through the same readers the CLI uses.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pledge.adapters.files.documents import load_yaml_file
from pledge.adapters.files.readers import read_accounts, read_purchases
from pledge.domain.campaign import parse_cashback_terms
from pledge.domain.catalog import parse_catalog
from pledge.domain.errors import InputError
from pledge.domain.offers import parse_offer_terms
from pledge.domain.records import PURCHASE_COLUMNS
from tests.integration.test_api_support import Api, api_fixture, scenario_fixture  # noqa: F401 - fixtures
from tests.integration.test_api_unknown_fields import operations, snapshot
from tests.unit.test_documents import BOMB

# A hang guard, not a speed target (speed is measured by benchmarks): a bomb that is expanded never
# answers at all, while a refusal takes well under a second even under coverage on a loaded 2-core runner.
ANSWER_WITHIN_S = 5.0

# (name, body, content type): what a fuzzer or an attacker sends first.
CORPUS: list[tuple[str, bytes, str]] = [
    ("billion laughs", BOMB, "application/yaml"),
    ("deep array", b"[" * 200_000, "application/json"),
    ("deep object", b'{"a":' * 50_000, "application/json"),
    ("deep but closed", b"[" * 5_000 + b"]" * 5_000, "application/json"),
    ("NUL bytes", b'{"reason": "a\x00b", "account_id": "\x00"}', "application/json"),
    ("raw NULs", b"\x00" * 4096, "application/json"),
    ("over-long field", b'{"reason": "' + b"x" * 200_000 + b'"}', "application/json"),
    ("over the body limit", b'{"reason": "' + b"x" * 3_000_000 + b'"}', "application/json"),
    ("invalid UTF-8", b'{"reason": "\xff\xfe\xc3\x28"}', "application/json"),
    ("huge float", b'{"accept_shortfall": 1e999999, "amount": 1e400}', "application/json"),
    ("huge integer", b'{"accept_shortfall": ' + b"9" * 100_000 + b"}", "application/json"),
    (
        "mixed offsets",
        b'{"at": "2011-12-07T23:59:59+08:00+08:00", "now": "2011-13-45T25:61:61Z"}',
        "application/json",
    ),
    ("not JSON", b"\xef\xbb\xbf{'single': quotes,}", "application/json"),
    ("YAML tags", b"!!python/object/apply:os.system ['true']\n", "application/yaml"),
]


def _post_operations(api: Api) -> list[tuple[str, str]]:
    document = api.get("/openapi.json", None).json()
    return [(path, op["x-scopes"][0]) for method, path, op in operations(document) if method == "post"]


def test_every_post_endpoint_answers_the_corpus_quickly_below_500_and_writes_nothing(scenario: Api) -> None:
    api = scenario
    targets = _post_operations(api)
    assert len(targets) >= 15
    before = snapshot(api)
    slowest = 0.0
    for path, who in targets:
        for name, body, content_type in CORPUS:
            started = time.monotonic()
            response = api.http.post(
                path, content=body, headers=api.headers(who, Content_Type=content_type, Idempotency_Key=name)
            )
            took = time.monotonic() - started
            slowest = max(slowest, took)
            assert response.status_code < 500, (path, name, response.status_code, response.text[:300])
            assert response.status_code >= 400, (path, name, response.text[:300])
            assert response.json()["error"]["code"], (path, name)
            assert took < ANSWER_WITHIN_S, (path, name, took)
    assert snapshot(api) == before
    print(f"hostile corpus: {len(targets)} endpoints x {len(CORPUS)} inputs, slowest answer {slowest:.3f} s")


PURCHASE_HEADER = ",".join(PURCHASE_COLUMNS).encode()
GOOD_PURCHASE = b"P1,A1,mi-1,S1,2011-12-07T23:59:59+08:00,1999.00,CNY,completed,mi.com"

FILES: list[tuple[str, bytes]] = [
    ("nul.csv", PURCHASE_HEADER + b"\n" + GOOD_PURCHASE.replace(b"mi.com", b"mi\x00com") + b"\n"),
    ("latin1.csv", PURCHASE_HEADER + b"\n" + GOOD_PURCHASE + b"\xe9\xff\n"),
    ("long-line.csv", PURCHASE_HEADER + b"\n" + b"P2," + b"q" * (3 << 20) + b"\n"),
    ("long-field.csv", PURCHASE_HEADER + b"\n" + GOOD_PURCHASE.replace(b"S1", b"S" * 100_000) + b"\n"),
    ("huge-price.csv", PURCHASE_HEADER + b"\n" + GOOD_PURCHASE.replace(b"1999.00", b"9" * 5_000) + b"\n"),
    ("float-price.csv", PURCHASE_HEADER + b"\n" + GOOD_PURCHASE.replace(b"1999.00", b"1e308") + b"\n"),
    ("two-offsets.csv", PURCHASE_HEADER + b"\n" + GOOD_PURCHASE.replace(b"+08:00", b"+08:00Z") + b"\n"),
    ("wide.csv", b",".join(b"c%d" % i for i in range(100_000)) + b"\n"),
    ("quote.csv", PURCHASE_HEADER + b'\n"P3,' + b"a" * 500_000 + b"\n"),
]


def _consume(read: Callable[[Path, int], Any], path: Path) -> None:
    for _ in read(path, 10_000):
        pass


@pytest.mark.parametrize(("name", "content"), FILES, ids=[name for name, _ in FILES])
def test_every_file_reader_refuses_hostile_files_quickly(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    for read in (read_purchases, read_accounts):
        started = time.monotonic()
        with pytest.raises(InputError) as caught:
            _consume(read, path)
        assert time.monotonic() - started < ANSWER_WITHIN_S, (name, read.__name__)
        assert len(caught.value.message) < 2_000 and caught.value.code, caught.value.message[:300]


@pytest.mark.parametrize(("name", "body", "_type"), CORPUS, ids=[name for name, _, _ in CORPUS])
def test_campaign_and_plans_files_refuse_the_corpus_quickly(
    tmp_path: Path, name: str, body: bytes, _type: str
) -> None:
    path = tmp_path / "campaign.yaml"
    path.write_bytes(body)
    for parse in (parse_cashback_terms, parse_offer_terms, parse_catalog):
        started = time.monotonic()
        with pytest.raises(InputError):
            parse(load_yaml_file(path))
        assert time.monotonic() - started < ANSWER_WITHIN_S, (name, parse.__name__)
