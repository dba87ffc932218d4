"""The OpenAPI document tells the truth about 422 answers.

FastAPI documents every 422 as a list of field errors (`HTTPValidationError`), but a request
whose fields are each valid and together wrong (until before since, a time in the future, no
patient at the bed) is answered with one sentence. The document says `detail` is either.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi


def document_error_details(app: FastAPI) -> None:
    """Make `app.openapi()` describe 422 `detail` as field errors or a sentence."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            error = schema.get("components", {}).get("schemas", {}).get("HTTPValidationError")
            if error is not None:
                listed = error["properties"]["detail"]
                error["properties"]["detail"] = {
                    "title": "Detail",
                    "anyOf": [
                        {k: v for k, v in listed.items() if k != "title"},
                        {"type": "string"},
                    ],
                }
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
