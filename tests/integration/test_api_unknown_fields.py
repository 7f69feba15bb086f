"""Unknown fields over HTTP, generated from the published OpenAPI document, on SQLite and PostgreSQL.

For every operation: every documented body field, and every documented query
parameter, misspelt by one edit, is refused with 400 ``unknown_field`` naming
the misspelt field (and the field meant), and nothing is written: every table
of the database has the rows it had.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from importlib import resources
from typing import Any

import pytest
from sqlalchemy import func, inspect, select, table

from pledge.adapters.files.documents import load_yaml
from tests.integration.test_api_support import Api, api_fixture, scenario_fixture  # noqa: F401 - fixtures
from tests.unit.test_documents import BOMB

PATH_VALUES = {
    "campaign_id": "founders-refund",
    "term_id": "sub_x",
    "grant_id": "gr_x",
    "account_id": "A-cn-1",
    "purchase_id": "P01",
    "job_id": "job_x",
    "endpoint_id": "we_x",
    "event_id": "evt_x",
    "claim_id": "clm_x",
    "sha256": "0" * 64,
}
# The example files that fill a document body, by path; their keys are misspelt one by one.
DOCUMENT_EXAMPLES = {
    "/v1/campaigns": ("founders-refund.yaml", "cloud-double-11-v1.yaml", "cloud-double-11-v2.yaml"),
    "/v1/plans": ("cloud-plans.yaml",),
}
SAMPLES = {"string": "x", "integer": 1, "boolean": True, "array": ["x"], "object": {}}


def one_edit(name: str) -> list[str]:
    """Misspellings one edit away: the last letter doubled, and the last letter dropped."""
    return [name + name[-1], name[:-1]]


def snapshot(api: Api) -> dict[str, int]:
    """Rows in every table: a refused request must leave each count as it was."""
    with api.app.engine.connect() as conn:
        names = inspect(conn).get_table_names()
        return {name: int(conn.scalar(select(func.count()).select_from(table(name))) or 0) for name in names}


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A body schema with its $ref followed and an optional body's null alternative dropped."""
    if "$ref" in schema:
        return resolve(document, document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]])
    options = [option for option in schema.get("anyOf", []) if option.get("type") != "null"]
    return resolve(document, options[0]) if len(options) == 1 else schema


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, items in document["paths"].items():
        for method, operation in items.items():
            yield method, path.format(**PATH_VALUES), operation


def refused(response: Any, wrong: str, meant: str) -> None:
    assert response.status_code == 400, (wrong, response.text)
    error = response.json()["error"]
    assert (error["type"], error["code"], error["param"]) == ("invalid_request_error", "unknown_field", wrong)
    assert error["message"].startswith(f"{wrong}: unknown ")
    if meant:
        assert f"did you mean {meant}?" in error["message"], error["message"]


def _body_cases(document: dict[str, Any]) -> Iterator[tuple[str, str, str, dict[str, Any], str, str]]:
    """(method, path, who, body, misspelt field, field meant) for every JSON model body field."""
    for method, path, operation in operations(document):
        content = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if content is None or path in DOCUMENT_EXAMPLES:
            continue
        schema = resolve(document, content["schema"])
        assert schema["additionalProperties"] is False, path
        fields = schema["properties"]
        required = {name: SAMPLES[fields[name].get("type", "string")] for name in schema.get("required", [])}
        for name in fields:
            for wrong in one_edit(name):
                if wrong not in fields:
                    body = {
                        **{k: v for k, v in required.items() if k != name},
                        wrong: required.get(name, True),
                    }
                    meant = name if wrong.startswith(name) else ""
                    yield method, path, operation["x-scopes"][0], body, wrong, meant


def test_every_documented_body_field_misspelt_is_refused_and_nothing_written(scenario: Api) -> None:
    api = scenario
    document = api.get("/openapi.json", None).json()
    before = snapshot(api)
    cases = list(_body_cases(document))
    assert {path for _, path, *_ in cases} >= {
        "/v1/campaigns/founders-refund/simulate",
        "/v1/campaigns/founders-refund/compensate",
        "/v1/subscriptions/sub_x/refund",
        "/v1/subscriptions",
        "/v1/webhook_endpoints",
    }
    for method, path, who, body, wrong, meant in cases:
        response = api.http.request(method, path, json=body, headers=api.headers(who, Idempotency_Key=wrong))
        refused(response, wrong, meant)
    assert snapshot(api) == before


def test_an_operation_without_a_body_refuses_one(scenario: Api) -> None:
    api = scenario
    document = api.get("/openapi.json", None).json()
    before = snapshot(api)
    bodiless = [
        (path, op)
        for method, path, op in operations(document)
        if method == "post" and "requestBody" not in op
    ]
    assert len(bodiless) >= 7  # pause, resume, close, run, claim, expire, renew_due
    for path, operation in bodiless:
        response = api.post(path, operation["x-scopes"][0], {"dry_run": True})
        refused(response, "dry_run", "")
        assert response.json()["error"]["message"] == "dry_run: unknown field; this operation takes no body"
        text = api.http.post(path, content=b"yes", headers=api.headers(operation["x-scopes"][0]))
        assert (text.status_code, text.json()["error"]["code"]) == (400, "body_not_allowed")
    assert snapshot(api) == before


def test_every_documented_query_parameter_misspelt_is_refused(scenario: Api) -> None:
    api = scenario
    document = api.get("/openapi.json", None).json()
    before = snapshot(api)
    checked = 0
    for method, path, operation in operations(document):
        names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
        for name in names:
            for wrong in one_edit(name):
                if wrong in names:
                    continue
                headers = api.headers(operation["x-scopes"][0], Content_Type="text/csv")
                response = api.http.request(method, path, params={wrong: "1"}, headers=headers, content=b"")
                refused(response, wrong, name if wrong.startswith(name) else "")
                checked += 1
    assert checked >= 30
    assert snapshot(api) == before


def _document_fields(schema: dict[str, Any], doc: Any, path: list[Any]) -> Iterator[tuple[list[Any], str]]:
    """(path of the parent in ``doc``, field) for every documented field whose parent the example has."""
    if "oneOf" in schema:
        chosen = [s for s in schema["oneOf"] if s["properties"]["type"].get("const") == doc.get("type")]
        schema = chosen[0] if chosen else schema["oneOf"][0]
    if schema.get("type") == "array" and isinstance(doc, list):
        for index, item in enumerate(doc):
            yield from _document_fields(schema["items"], item, [*path, index])
    if schema.get("type") != "object" or not isinstance(doc, dict) or "properties" not in schema:
        return
    for name, inner in schema["properties"].items():
        yield path, name
        if name in doc:
            yield from _document_fields(inner, doc[name], [*path, name])


def _dotted(path: list[Any], name: str) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return f"{text}.{name}" if text else name


def test_every_field_of_a_posted_file_misspelt_is_refused(api: Api) -> None:
    document = api.get("/openapi.json", None).json()
    before = snapshot(api)
    checked = 0
    for path, names in DOCUMENT_EXAMPLES.items():
        schema = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        for name in names:
            example = load_yaml(resources.files("pledge.examples").joinpath(name).read_bytes(), name)
            options = schema.get("oneOf", [schema])
            kind = [
                s for s in options if s["properties"].get("kind", {}).get("const") == example.get("kind")
            ] or [s for s in options if "const" not in s["properties"].get("kind", {})]
            for parent_path, field in _document_fields(kind[0], example, []):
                body = copy.deepcopy(example)
                parent = body
                for part in parent_path:
                    parent = parent[part]
                wrong = field + field[-1]
                parent[wrong] = parent.pop(field, "x")
                response = api.post(path, "admin", body)
                refused(response, _dotted(parent_path, wrong), field)
                checked += 1
    assert checked >= 40
    assert snapshot(api) == before


@pytest.mark.parametrize(
    ("section", "wrong", "right"),
    [
        ("limits", "per_acount", "per_account"),
        ("benefit", "max_amout", "max_amount"),
        ("payout", "claim_whithin", "claim_within"),
        ("payout", "chanel", "channel"),
    ],
)
def test_the_misspelt_campaign_files_of_the_trust_issue_are_refused_as_yaml(
    api: Api, section: str, wrong: str, right: str
) -> None:
    text = resources.files("pledge.examples").joinpath("founders-refund.yaml").read_text(encoding="utf-8")
    line = {"limits": "limits: {per_account: 1", "benefit": "  max_amount:", "payout": f"  {right}:"}[section]
    assert line in text
    posted = text.replace(line, line.replace(right, wrong))
    before = snapshot(api)
    response = api.http.post(
        "/v1/campaigns",
        content=posted.encode(),
        headers=api.headers("admin", Content_Type="application/yaml"),
    )
    refused(response, f"{section}.{wrong}", right)
    assert response.json()["error"]["message"] == f"{section}.{wrong}: unknown field; did you mean {right}?"
    assert snapshot(api) == before


def test_the_billion_laughs_is_refused_in_milliseconds(api: Api) -> None:
    before = snapshot(api)
    started = time.monotonic()
    response = api.http.post(
        "/v1/campaigns", content=BOMB, headers=api.headers("admin", Content_Type="application/yaml")
    )
    assert time.monotonic() - started < 2
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("invalid_body", "body")
    assert error["message"] == "body line 1: anchor &a refused: files may not use anchors"
    plans = api.http.post(
        "/v1/plans",
        content=b'{"currency": "CNY", "plans": [], "currency": "USD"}',
        headers=api.headers("admin", Content_Type="application/json"),
    )
    assert plans.json()["error"]["code"] == "duplicate_key"
    assert snapshot(api) == before
