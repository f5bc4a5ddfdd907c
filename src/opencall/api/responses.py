"""Stored rows out as Vapi JSON. Rows are validated on the way in, so they are sent as stored."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi.responses import JSONResponse

from opencall.store.resources import to_wire
from opencall.store.tables import Resource


def one(row: Resource, status_code: int = 200, **extra: Any) -> JSONResponse:
    return JSONResponse({**to_wire(row), **extra}, status_code=status_code)


def many(rows: Iterable[Resource]) -> JSONResponse:
    return JSONResponse([to_wire(row) for row in rows])
