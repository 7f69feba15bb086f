"""The published OpenAPI document matches the code, and the live API honours it (schemathesis).

Schemathesis generates requests for every operation (valid and invalid data)
against a live server on SQLite and on PostgreSQL, with a key whose scope is
allowed on the operation, and checks: no 5xx, documented status codes and
content types, and bodies that match the published schemas. Kept to a few
examples per operation so the whole run stays around a minute.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from pledge.bootstrap import App
from pledge.entrypoints.server import create_app, openapi_document
from tests.integration.test_api_support import Api, running_api

DOC = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
REGENERATE = "pledge openapi --out docs/openapi.json"


def test_the_checked_in_openapi_document_is_current() -> None:
    pledge = App("sqlite://")
    try:
        current = openapi_document(create_app(pledge))
    finally:
        pledge.close()
    assert DOC.exists(), f"docs/openapi.json is missing; run: {REGENERATE}"
    assert DOC.read_text(encoding="utf-8") == current, (
        f"docs/openapi.json is out of date with the code; regenerate it with: {REGENERATE}"
    )


def test_every_operation_documents_its_scopes_and_errors() -> None:
    pledge = App("sqlite://")
    try:
        document = create_app(pledge).openapi()
    finally:
        pledge.close()
    for path, operations in document["paths"].items():
        assert path.startswith("/v1/")
        for method, operation in operations.items():
            assert operation["x-scopes"], f"{method} {path}"
            assert {"400", "401", "403", "404"} <= set(operation["responses"]), f"{method} {path}"
            assert "422" not in operation["responses"]
            if method == "post":
                names = {p["name"] for p in operation.get("parameters", [])}
                assert "Idempotency-Key" in names, f"{method} {path}"


@pytest.fixture
def live(db_url: str, tmp_path: Path) -> Iterator[Api]:
    with running_api(db_url) as api:
        api.load_data(tmp_path)
        api.launch()
        api.run()
        yield api


def _who(operation: Any) -> str:
    scopes = operation.definition.raw.get("x-scopes", [])
    return str(scopes[0]) if scopes else "admin"


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _fuzz(operation: Any, mode: GenerationMode, headers: dict[str, str], calls: list[int]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=5,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        phases=[Phase.generate],
    )
    def check(case: Any) -> None:
        calls.append(case.call_and_validate(headers=headers, checks=CHECKS).status_code)

    check()


def test_the_live_api_matches_its_schema(live: Api) -> None:
    """Every operation, valid and invalid data; failures are collected and reported together.

    (Driven through hypothesis directly: schemathesis' lazy pytest fixtures do not
    support this pytest version.)
    """
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    failures: list[str] = []
    calls: list[int] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    for operation in operations:
        headers = {"Authorization": f"Bearer {live.keys[_who(operation)]}"}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(operation, mode, headers, calls)
            except Exception as exc:
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)
    assert len(calls) >= 150, f"only {len(calls)} requests were generated"
    assert 200 in calls and 400 in calls
