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
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from pledge.bootstrap import App
from pledge.entrypoints.api.app import create_app, openapi_document
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


@pytest.fixture
def live_schema(live: Api) -> Any:
    return schemathesis.openapi.from_url(f"{live.url}/openapi.json")


schema = schemathesis.pytest.from_fixture("live_schema")


def _who(case: Any) -> str:
    scopes = case.operation.definition.raw.get("x-scopes", [])
    return str(scopes[0]) if scopes else "admin"


@schema.parametrize()
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_the_live_api_matches_its_schema(case: Any, live: Api) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {live.keys[_who(case)]}"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
