"""NaN and ±inf are refused in every request body: for each operation of the OpenAPI document,
a NaN put at each number field (and into each free-form object) is a 422 naming that field.
JSON has no NaN, but Python's parser (and so Starlette's) reads `NaN` and `Infinity`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.auth import issue_token
from app.context import AppContext
from app.security import hash_password
from app.store.rows import Role

Path = tuple[str | int, ...]
MAX_DEPTH = 4


def _resolve(schema: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = doc["components"]["schemas"][name]
    return schema


Target = tuple[Path, dict[Path, Any]]
"""Where the NaN goes, and the constant fields on its way (a discriminated union's tag)."""


def _targets(
    schema: dict[str, Any], doc: dict[str, Any], at: Path = (), fixed: dict[Path, Any] | None = None
) -> Iterator[Target]:
    """Where a number can go in a body of `schema` (and free-form objects: a key in them)."""
    fixed = fixed or {}
    if len(at) > MAX_DEPTH:
        return
    schema = _resolve(schema, doc)
    for option in schema.get("anyOf", []) + schema.get("oneOf", []) + schema.get("allOf", []):
        yield from _targets(option, doc, at, fixed)
    kind = schema.get("type")
    if kind in ("number", "integer") and at:
        yield at, fixed
    elif kind == "array" and "items" in schema:
        yield from _targets(schema["items"], doc, (*at, 0), fixed)
    elif kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        tags = {
            (*at, name): _resolve(sub, doc)["const"]
            for name, sub in properties.items()
            if "const" in _resolve(sub, doc)
        }
        for name, sub in properties.items():
            yield from _targets(sub, doc, (*at, name), {**fixed, **tags})
        if not properties and schema.get("additionalProperties", True) is not False:
            yield (*at, "x"), fixed  # a free-form object: any key may carry a number


def _body(target: Target) -> Any:
    at, fixed = target
    body: Any = {} if not at or isinstance(at[0], str) else []
    for path, value in [*fixed.items(), (at, float("nan"))]:
        node = body
        for step, following in zip(path, (*path[1:], None), strict=True):
            if following is None:
                if isinstance(node, list):
                    node.append(value)
                else:
                    node[step] = value
            else:
                empty: Any = [] if isinstance(following, int) else {}
                if isinstance(node, list):
                    if not node:
                        node.append(empty)
                    node = node[0]
                else:
                    node = node.setdefault(step, empty)
    return body


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, op in item.items():
            content = op.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                url = path
                for param in op.get("parameters", []):
                    if param["in"] == "path":
                        sample = "1" if param["name"] == "ae_id" else "ICU-1"
                        url = url.replace("{" + param["name"] + "}", sample)
                yield method, url, content["application/json"]["schema"]


def _names(detail: Any, target: Target) -> bool:
    """Whether a 422's field errors name the target (or the free-form object holding it);
    pydantic puts a discriminated union's tag in the location too."""
    at, fixed = target
    tags = set(fixed.values())
    for error in detail if isinstance(detail, list) else []:
        loc = tuple(step for step in error.get("loc", ())[1:] if step not in tags)
        n = min(len(loc), len(at))
        if error.get("type") != "missing" and n and loc[:n] == at[:n]:
            return True
    return False


@pytest.fixture
async def tokens(ctx: AppContext) -> list[dict[str, str]]:
    """An admin's, then an investigator's (some writes are theirs alone)."""
    await ctx.store.add_user("ivy", Role.INVESTIGATOR, hash_password("x" * 12))
    return [
        {"Authorization": f"Bearer {issue_token(ctx, name, role)[0]}"}
        for name, role in (("ada", Role.ADMIN), ("ivy", Role.INVESTIGATOR))
    ]


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
async def test_every_body_refuses_non_finite_numbers(
    client: httpx.AsyncClient, tokens: list[dict[str, str]], number: str
) -> None:
    doc = (await client.get("/openapi.json")).json()
    tried, accepted = 0, []
    for method, url, schema in _operations(doc):
        for target in _targets(schema, doc):
            at = target[0]
            raw = json.dumps(_body(target)).replace("NaN", number)
            for headers in tokens:
                r = await client.request(
                    method,
                    url,
                    content=raw,
                    headers={**headers, "Content-Type": "application/json"},
                )
                if r.status_code != 403:
                    break
            tried += 1
            if not (r.status_code == 422 and _names(r.json()["detail"], target)):
                accepted.append((method.upper(), url, at, r.status_code, r.text[:200]))
    assert tried > 20  # every number field of every body (26 when written)
    assert accepted == []


async def test_free_form_data_nests_only_so_deep(
    client: httpx.AsyncClient, tokens: list[dict[str, str]]
) -> None:
    deep: Any = 1
    for _ in range(100):
        deep = {"a": deep}
    r = await client.put(
        "/api/dataset/patients/S-1/forms/baseline", json={"data": deep}, headers=tokens[0]
    )
    assert r.status_code == 422 and "nested deeper than" in r.text
