"""Typed domain errors. The API edge maps each to Vapi's NestJS error body; nothing else formats errors."""

from __future__ import annotations

INVALID_KEY = (
    "Invalid Key. Hot tip, you may be using the private key instead of the public key, or vice versa."
)


class OpenCallError(Exception):
    status_code = 400
    error = "Bad Request"

    def __init__(self, message: str | list[str]) -> None:
        super().__init__(message if isinstance(message, str) else "; ".join(message))
        self.message = message


class BadRequest(OpenCallError):
    pass


class NotFound(OpenCallError):
    status_code = 404
    error = "Not Found"


class Unauthorized(OpenCallError):
    status_code = 401
    error = "Unauthorized"

    def __init__(self, message: str = INVALID_KEY) -> None:
        super().__init__(message)


class Forbidden(OpenCallError):
    status_code = 403
    error = "Forbidden"
