"""Every error leaves as Vapi's NestJS body `{"message", "error", "statusCode"}`; never FastAPI's 422."""

from __future__ import annotations

import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from opencall.errors import OpenCallError
from opencall.schemas.errors import vapi_messages

log = logging.getLogger(__name__)


def error_response(status_code: int, message: str | list[str]) -> JSONResponse:
    reason = HTTPStatus(status_code).phrase if status_code in HTTPStatus._value2member_map_ else "Error"
    return JSONResponse(
        status_code=status_code, content={"message": message, "error": reason, "statusCode": status_code}
    )


async def _domain(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OpenCallError)
    return error_response(exc.status_code, exc.message)


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(400, vapi_messages(list(exc.errors()), body=exc.body))


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code in (404, 405) and exc.detail in ("Not Found", "Method Not Allowed"):
        # NestJS' wording for an unknown route.
        return error_response(404, f"Cannot {request.method} {request.url.path}")
    return error_response(exc.status_code, str(exc.detail))


async def _unstorable(request: Request, exc: Exception) -> JSONResponse:
    # SQLSTATE class 22 (data exception) is the input's fault: PostgreSQL refuses NUL characters in text
    # (ids, numbers, search strings) and out-of-range numbers. A client error, so a 400 and not a retried 500.
    log.info("database refused a value on %s %s: %s", request.method, request.url.path, exc)
    return error_response(400, ["a value in the request cannot be stored (NUL characters are not allowed)"])


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "Internal server error")


def install(app: FastAPI) -> None:
    app.add_exception_handler(OpenCallError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(DataError, _unstorable)
    app.add_exception_handler(Exception, _unexpected)
