"""The OpenAPI document names every status a route can answer, and its body.

Derived from each operation as FastAPI documents it, so a new route is documented as it is
written:
- 400 for an operation with a body (a body that is not JSON at all);
- 401 for an operation behind the bearer token, with `WWW-Authenticate`;
- 403 for an operation open to some roles only (`app.auth.require`: the roles are the
  scopes of its bearer requirement);
- 404 for an operation with a path parameter (an unknown bed, patient, alert …, or a
  parameter holding a `/`, which no route matches);
- 422 as field errors (FastAPI's `HTTPValidationError`) or one sentence: a request whose
  fields are each valid and together wrong (until before since, no patient at the bed).

Statuses a handler decides itself are declared at the route with `responses=conflict(...)`,
`not_found(...)` or `forbidden(...)`; 429 carries `Retry-After`. Every error body other than
422 is `ErrorOut`, `{"detail": "a sentence"}`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

Responses = dict[int | str, dict[str, Any]]

ERROR_OUT = {
    "title": "ErrorOut",
    "type": "object",
    "properties": {"detail": {"title": "Detail", "type": "string"}},
    "required": ["detail"],
}
_HEADERS = {
    "401": {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}},
    "429": {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}},
}


class StartRefusal(BaseModel):
    """Why an infusion start is refused, with the checklist that refused it."""

    message: str
    eligibility: dict[str, Any] | None
    product: dict[str, Any] | None = None


class StartRefusedOut(BaseModel):
    """A refused infusion start: the checklist, or one sentence (already running …)."""

    detail: StartRefusal | str


def conflict(why: str, *, model: type[BaseModel] | None = None) -> Responses:
    """`responses=` for a route that answers 409 when the record's state forbids the request
    (`model` when its body is more than `ErrorOut`)."""
    return {409: {"description": why} | ({"model": model} if model is not None else {})}


def not_found(why: str) -> Responses:
    """`responses=` for a route that answers 404 for a record its body names."""
    return {404: {"description": why}}


def forbidden(why: str) -> Responses:
    """`responses=` for a route whose handler answers 403 itself (beyond its role check)."""
    return {403: {"description": why}}


def document_error_details(app: FastAPI) -> None:
    """Make `app.openapi()` list every status of every route (see the module docstring)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components["ErrorOut"] = ERROR_OUT
            _sentence_or_fields(components)
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    _document(operation["responses"], derived_errors(operation))
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def derived_errors(operation: dict[str, Any]) -> dict[int, str]:
    """The error statuses an OpenAPI operation can answer by its shape."""
    errors: dict[int, str] = {}
    if "requestBody" in operation:
        errors[400] = "the body is not JSON"
    security = operation.get("security", [])
    if security:
        errors[401] = "not signed in, or the token is invalid or expired, or its user disabled"
    if any(scopes for requirement in security for scopes in requirement.values()):
        errors[403] = "the user's role may not do this (the roles: the bearer's scopes)"
    if any(p.get("in") == "path" for p in operation.get("parameters", [])):
        errors[404] = "no such resource"
    return errors


def _document(responses: dict[str, Any], derived: dict[int, str]) -> None:
    for status, why in derived.items():
        responses.setdefault(str(status), {"description": why})
    for code, response in responses.items():
        if code.startswith(("4", "5")) and code != "422" and not _has_schema(response):
            response["content"] = {
                "application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}
            }
        if code in _HEADERS:
            response.setdefault("headers", _HEADERS[code])


def _has_schema(response: dict[str, Any]) -> bool:
    return any(media.get("schema") for media in response.get("content", {}).values())


def _sentence_or_fields(components: dict[str, Any]) -> None:
    """422 `detail` is a list of field errors or one sentence."""
    error = components.get("HTTPValidationError")
    if error is not None:
        listed = error["properties"]["detail"]
        error["properties"]["detail"] = {
            "title": "Detail",
            "anyOf": [{k: v for k, v in listed.items() if k != "title"}, {"type": "string"}],
        }
