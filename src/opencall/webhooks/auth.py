"""Authentication of our requests to a customer's server, the ways Vapi does it.

- `server.headers` are sent as given (an `Authorization` there wins over the credential);
- the legacy secret (`serverUrlSecret`, `server.secret`) goes in `X-Vapi-Secret`;
- a `webhook` credential (`server.credentialId`) is either a bearer token (`Authorization: Bearer`, or
  its own header without the prefix) or HMAC over `payloadFormat` (default `{timestamp}.{body}`) in
  `x-signature` with the timestamp in `x-timestamp`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

HASHES = {"sha256": hashlib.sha256, "sha512": hashlib.sha512, "sha1": hashlib.sha1}


def hmac_headers(plan: dict[str, Any], body: bytes, url: str, method: str, message_id: str) -> dict[str, str]:
    secret_text = str(plan.get("secretKey", ""))
    secret = base64.b64decode(secret_text) if plan.get("secretIsBase64") else secret_text.encode()
    timestamp = str(int(time.time()))
    payload_format = str(plan.get("payloadFormat") or "{timestamp}.{body}")
    if plan.get("includeTimestamp") is False and payload_format == "{timestamp}.{body}":
        payload_format = "{body}"
    payload = (
        payload_format.replace("{timestamp}", timestamp)
        .replace("{method}", method)
        .replace("{url}", url)
        .replace("{svix-id}", message_id)
        .encode()
    )
    # {body} is substituted last and as bytes so a body containing "{timestamp}" is signed verbatim.
    payload = payload.replace(b"{body}", body)
    digest = hmac.new(
        secret, payload, HASHES.get(str(plan.get("algorithm", "sha256")), hashlib.sha256)
    ).digest()
    encoded = base64.b64encode(digest).decode() if plan.get("signatureEncoding") == "base64" else digest.hex()
    headers = {
        str(plan.get("signatureHeader") or "x-signature"): f"{plan.get('signaturePrefix') or ''}{encoded}"
    }
    if plan.get("includeTimestamp", True):
        headers[str(plan.get("timestampHeader") or "x-timestamp")] = timestamp
    if plan.get("messageIdHeader"):
        headers[str(plan["messageIdHeader"])] = message_id
    return headers


def bearer_headers(plan: dict[str, Any]) -> dict[str, str]:
    token = str(plan.get("token", ""))
    name = str(plan.get("headerName") or "Authorization")
    prefixed = plan.get("bearerPrefixEnabled", True)
    return {name: f"Bearer {token}" if prefixed else token}


def auth_headers(
    server: dict[str, Any],
    body: bytes,
    message_id: str,
    credential_plan: dict[str, Any] | None = None,
) -> dict[str, str]:
    headers: dict[str, str] = {"Content-Type": "application/json", "X-Message-Id": message_id}
    if secret := server.get("secret"):
        headers["X-Vapi-Secret"] = str(secret)
    if credential_plan:
        kind = credential_plan.get("type")
        if kind == "bearer":
            headers.update(bearer_headers(credential_plan))
        elif kind == "hmac":
            headers.update(
                hmac_headers(credential_plan, body, str(server.get("url", "")), "POST", message_id)
            )
    headers.update({str(k): str(v) for k, v in (server.get("headers") or {}).items()})
    return headers
