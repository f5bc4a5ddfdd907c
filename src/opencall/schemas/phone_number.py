"""Phone numbers (`/phone-number`, `/v2/phone-number`), discriminated by `provider`.

Responses never carry provider secrets (`twilioAuthToken`, `twilioApiSecret`): the response models
ignore unknown keys, so a stored secret is dropped when a response is built.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, field_validator

from opencall.schemas.base import PersistedFields, VapiModel
from opencall.schemas.common import PhoneDestination, Server, check_e164, partial_model, union_members


class _PhoneNumberCommon(VapiModel):
    name: str | None = Field(None, max_length=40)
    """Label."""
    assistant_id: str | None = None
    """Assistant that answers inbound calls. With no assistant, squad or workflow, the server is asked
    (`assistant-request`)."""
    squad_id: str | None = None
    """Squad that answers inbound calls."""
    workflow_id: str | None = None
    """Workflow that answers inbound calls."""
    server: Server | None = None
    """Webhook target for this number's calls; precedence below the assistant's server."""
    fallback_destination: PhoneDestination | None = None
    """Where inbound calls go when no assistant can be found."""
    hooks: list[dict[str, Any]] | None = None
    """Actions on `call.ringing` / `call.ending`, stored verbatim."""


class CreateTwilioPhoneNumberDTO(_PhoneNumberCommon):
    """A Twilio number, imported with the account's credentials."""

    provider: Literal["twilio"]
    number: str
    """The number, E.164."""
    twilio_account_sid: str
    """Twilio account SID (`AC...`)."""
    twilio_auth_token: str | None = None
    """Twilio auth token (or use an API key and secret). Never returned."""
    twilio_api_key: str | None = None
    """Twilio API key SID (`SK...`)."""
    twilio_api_secret: str | None = None
    """Twilio API key secret. Never returned."""
    sms_enabled: bool | None = None
    """Let OpenCall configure the number's SMS webhook; default true."""


class CreateVonagePhoneNumberDTO(_PhoneNumberCommon):
    """A Vonage number."""

    provider: Literal["vonage"]
    number: str
    """The number, E.164."""
    credential_id: str
    """Id of the Vonage credential."""


class CreateTelnyxPhoneNumberDTO(_PhoneNumberCommon):
    """A Telnyx number."""

    provider: Literal["telnyx"]
    number: str
    """The number, E.164."""
    credential_id: str
    """Id of the Telnyx credential."""


class SipAuthentication(VapiModel):
    """Digest credentials a SIP client must present to call `sipUri`."""

    realm: str | None = None
    username: str = Field(min_length=20, max_length=40)
    password: str = Field(min_length=20, max_length=40)


class CreateVapiPhoneNumberDTO(_PhoneNumberCommon):
    """A free number or SIP URI provisioned by the platform (on OpenCall: a SIP URI on its SIP endpoint)."""

    provider: Literal["vapi"]
    number_desired_area_code: str | None = Field(None, min_length=3, max_length=3)
    """US area code of the number to provision."""
    sip_uri: str | None = None
    """SIP address (`sip:name@host`) that calls the assistant when INVITEd."""
    authentication: SipAuthentication | None = None
    """Require digest authentication on `sipUri`."""


class CreateByoPhoneNumberDTO(_PhoneNumberCommon):
    """Bring your own number, reached through a SIP trunk credential."""

    provider: Literal["byo-phone-number"]
    number_e164_check_enabled: bool | None = None
    """Reject numbers that are not E.164; default true."""
    number: str | None = Field(None, min_length=3, max_length=40)
    """The number."""
    credential_id: str
    """Id of the `byo-sip-trunk` credential."""

    _number_is_e164 = field_validator("number")(check_e164)


CreatePhoneNumberDTO = Annotated[
    CreateByoPhoneNumberDTO
    | CreateTwilioPhoneNumberDTO
    | CreateVonagePhoneNumberDTO
    | CreateVapiPhoneNumberDTO
    | CreateTelnyxPhoneNumberDTO,
    Field(discriminator="provider"),
]
"""Body of `POST /phone-number`."""

UPDATE_PHONE_NUMBER_DTOS: dict[str, type[VapiModel]] = {
    provider: partial_model(cls, cls.__name__.replace("Create", "Update", 1))
    for provider, cls in union_members(CreatePhoneNumberDTO, "provider").items()
}
"""Provider → its Update*PhoneNumberDTO (the create DTO with every field optional)."""


class UpdatePhoneNumberDTO(VapiModel):
    """Body of `PATCH /phone-number/{id}`: fields of the stored number's provider
    (checked by `validate_phone_number_update`)."""

    model_config = ConfigDict(extra="allow")

    provider: str | None = None
    """If sent, must equal the stored number's provider."""


def validate_phone_number_update(provider: str, body: dict[str, Any]) -> dict[str, Any]:
    """Validate a PATCH body against the stored number's Update DTO; returns the wire-form patch.

    Raises `pydantic.ValidationError`.
    """
    patch = UPDATE_PHONE_NUMBER_DTOS[provider].model_validate(body)
    return patch.model_dump(mode="json", by_alias=True, exclude_unset=True)


class _PhoneNumberResponse(PersistedFields):
    model_config = ConfigDict(extra="ignore", use_attribute_docstrings=True)

    status: Literal["active", "activating", "blocked"] | None = None
    """`activating` while the number is being provisioned."""


class TwilioPhoneNumber(_PhoneNumberCommon, _PhoneNumberResponse):
    """A saved Twilio number (without its secrets)."""

    provider: Literal["twilio"]
    number: str
    twilio_account_sid: str
    twilio_api_key: str | None = None
    sms_enabled: bool | None = None


class VonagePhoneNumber(CreateVonagePhoneNumberDTO, _PhoneNumberResponse):
    """A saved Vonage number."""


class TelnyxPhoneNumber(CreateTelnyxPhoneNumberDTO, _PhoneNumberResponse):
    """A saved Telnyx number."""


class VapiPhoneNumber(CreateVapiPhoneNumberDTO, _PhoneNumberResponse):
    """A saved platform number / SIP URI."""

    number: str | None = None
    """The provisioned number, once active."""


class ByoPhoneNumber(CreateByoPhoneNumberDTO, _PhoneNumberResponse):
    """A saved bring-your-own number."""


PhoneNumber = Annotated[
    ByoPhoneNumber | TwilioPhoneNumber | VonagePhoneNumber | VapiPhoneNumber | TelnyxPhoneNumber,
    Field(discriminator="provider"),
]
"""A saved phone number, as returned by `/phone-number` routes."""


class PaginationMeta(VapiModel):
    """Paging information of a `/v2/...` list."""

    items_per_page: int
    total_items: int
    current_page: int
    total_pages: int | None = None
    has_next_page: bool | None = None
    next_cursor: str | None = None
    sort_order: Literal["ASC", "DESC"] | None = None
    items_beyond_retention: bool | None = None
    """Whether older items exist past the retention window."""
    created_at_le: datetime | None = None
    created_at_ge: datetime | None = None


class PhoneNumberPaginatedResponse(VapiModel):
    """Answer of `GET /v2/phone-number`."""

    results: list[PhoneNumber]
    metadata: PaginationMeta


class TransientTwilioPhoneNumber(_PhoneNumberCommon):
    """`call.phoneNumber` as returned: the transient Twilio number of a call, without its secrets."""

    model_config = ConfigDict(extra="ignore")

    twilio_phone_number: str
    twilio_account_sid: str
    twilio_api_key: str | None = None
    sms_enabled: bool | None = None


class ImportTwilioPhoneNumberDTO(_PhoneNumberCommon):
    """A transient Twilio number for one call (`POST /call` `phoneNumber`), instead of `phoneNumberId`."""

    twilio_phone_number: str
    """The number calls are placed from, E.164."""
    twilio_account_sid: str
    twilio_auth_token: str | None = None
    twilio_api_key: str | None = None
    twilio_api_secret: str | None = None
    sms_enabled: bool | None = None
