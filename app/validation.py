"""422 answers that can always be written, and free-form JSON that is JSON.

FastAPI echoes each invalid value back in `detail[].input`; a NaN or infinity there cannot be
JSON, and the default handler then failed with a 500. Non-finite numbers are echoed as text.
Typed body fields refuse NaN and ±inf (`app.schemas.In`); a free-form object
(`FiniteJsonObject`) refuses them anywhere inside it, and nesting deeper than `MAX_DEPTH`.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AfterValidator

from core.records import MAX_DEPTH


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    """The 422 body FastAPI would send, with non-finite inputs as text."""
    assert isinstance(exc, RequestValidationError)
    detail = _finite(jsonable_encoder(exc.errors()))
    return JSONResponse({"detail": detail}, status_code=422)


def finite_json(value: dict[str, Any]) -> dict[str, Any]:
    """`value` if every number in it is finite and it nests at most `MAX_DEPTH` deep."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, float) and not math.isfinite(node):
            raise ValueError(f"{node} is not a finite number")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return value


FiniteJsonObject = Annotated[dict[str, Any], AfterValidator(finite_json)]
"""A free-form JSON object whose numbers are all finite (a form's data, say)."""
