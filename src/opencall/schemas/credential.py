"""Credentials (`/credential`, Vapi's extended spec): the `webhook` kind OpenCall signs requests with.

Other providers' credentials are accepted and stored (secrets sealed) so nothing a Vapi user sends is
lost; OpenCall reads only `webhook` ones today.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from opencall.schemas.base import PassthroughModel, PersistedFields, VapiModel


class BearerAuthenticationPlan(VapiModel):
    type: Literal["bearer"]
    token: str = Field(min_length=1)
    """Sent as `Authorization: Bearer <token>`, or as is in `headerName`."""
    header_name: str = "Authorization"
    bearer_prefix_enabled: bool = True
    """False with `headerName: "X-Vapi-Secret"` gives Vapi's legacy secret header."""


class HMACAuthenticationPlan(VapiModel):
    type: Literal["hmac"]
    secret_key: str = Field(min_length=1)
    algorithm: Literal["sha256", "sha512", "sha1"] = "sha256"
    signature_header: str = "x-signature"
    timestamp_header: str = "x-timestamp"
    signature_prefix: str | None = None
    """E.g. `sha256=`; prepended to the encoded signature."""
    include_timestamp: bool = True
    payload_format: str = "{timestamp}.{body}"
    """Signed string; placeholders {body} {timestamp} {method} {url} {svix-id}."""
    message_id_header: str | None = None
    signature_encoding: Literal["hex", "base64"] = "hex"
    secret_is_base64: bool = False


class OAuth2AuthenticationPlan(PassthroughModel):
    type: Literal["oauth2"]


AuthenticationPlan = Annotated[
    BearerAuthenticationPlan | HMACAuthenticationPlan | OAuth2AuthenticationPlan, Field(discriminator="type")
]

SECRET_KEYS = ("token", "secretKey", "clientSecret", "apiKey", "authToken", "apiSecret", "password")
"""Fields sealed at rest and never returned."""


class CreateWebhookCredentialDTO(VapiModel):
    provider: Literal["webhook"]
    name: str | None = Field(None, max_length=40)
    authentication_plan: AuthenticationPlan


class CreateOtherCredentialDTO(PassthroughModel):
    """Any other Vapi provider credential, stored verbatim (secrets sealed)."""

    provider: str = Field(pattern=r"^[a-z0-9.\-]+$", max_length=64)
    name: str | None = Field(None, max_length=40)

    @field_validator("provider")
    @classmethod
    def not_webhook(cls, value: str) -> str:
        # A webhook credential must match its own schema; it never falls through to the verbatim form.
        if value == "webhook":
            raise ValueError("webhook credentials need an authenticationPlan of type bearer, hmac or oauth2")
        return value


CreateCredentialDTO = CreateWebhookCredentialDTO | CreateOtherCredentialDTO


class UpdateCredentialDTO(PassthroughModel):
    name: str | None = Field(None, max_length=40)
    authentication_plan: dict[str, Any] | None = None


class Credential(PersistedFields):
    """A stored credential; secret fields are left out."""

    model_config = {"extra": "allow"}
    provider: str
    name: str | None = None
