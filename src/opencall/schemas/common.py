"""Building blocks shared by several resources: the webhook `Server`, transfer destinations, schedules.

Limits and defaults are the published Vapi spec's (`components.schemas.<Name>`); a default written in a
docstring is the value OpenCall uses when the field is absent.
"""

from __future__ import annotations

import re
from copy import copy
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import Field, ValidationInfo, create_model, field_validator

from opencall.schemas.base import PassthroughModel, VapiModel

E164 = re.compile(r"^\+[1-9]\d{1,14}$")
"""ITU-T E.164: `+`, country code, at most 15 digits in all."""


def check_e164(number: str | None, info: ValidationInfo) -> str | None:
    """Field validator for `number`; the model must declare `number_e164_check_enabled` before `number`."""
    if (
        number is not None
        and info.data.get("number_e164_check_enabled") is not False
        and not E164.match(number)
    ):
        raise ValueError(
            "must be a valid phone number in E.164 format (e.g. +14155550123), "
            "or set numberE164CheckEnabled to false"
        )
    return number


class BackoffPlan(VapiModel):
    """How a failed webhook delivery is retried."""

    type: Literal["fixed", "exponential"]
    """`fixed` waits `baseDelaySeconds` between tries; `exponential` doubles it each time."""
    max_retries: int = Field(ge=0, le=10)
    """Retries after the first attempt."""
    base_delay_seconds: float = Field(ge=0, le=10)
    """Delay before the first retry, in seconds."""
    excluded_status_codes: list[int] | None = None
    """HTTP status codes that are not retried."""


class Server(VapiModel):
    """A webhook target: where OpenCall POSTs server messages (`tool-calls`, `end-of-call-report`, ...)."""

    url: str | None = None
    """The URL server messages are POSTed to."""
    timeout_seconds: float | None = Field(None, ge=1, le=300)
    """Seconds to wait for the server's answer; default 20."""
    credential_id: str | None = None
    """Id of a webhook credential (bearer, HMAC or OAuth2) used to authenticate requests."""
    headers: dict[str, Any] | None = None
    """Extra request headers; an `Authorization` here overrides the credential's."""
    backoff_plan: BackoffPlan | None = None
    """Retry policy; default none (no retry)."""
    static_ip_addresses_enabled: bool | None = None
    """Send from Vapi's static IP range (not applicable to a self-hosted server); default false."""
    encrypted_paths: list[str] | None = None
    """JSON paths of the payload that are encrypted before sending."""


class CustomMessage(VapiModel):
    """A message with per-language variants, spoken instead of a plain string."""

    type: Literal["custom-message"] = "custom-message"
    content: str | None = Field(None, max_length=1000)
    """What is spoken; may contain `{{ variables }}`."""
    contents: list[dict[str, Any]] | None = None
    """Per-language variants (`{type: "text", text, language}`), stored verbatim."""


class TransferDestinationNumber(VapiModel):
    """Transfer to a phone number."""

    type: Literal["number"]
    number_e164_check_enabled: bool | None = None
    """Reject numbers that are not E.164; default true."""
    number: str = Field(min_length=3, max_length=40)
    """E.164 number, unless `numberE164CheckEnabled` is false."""
    extension: str | None = Field(None, min_length=1, max_length=10)
    """Digits dialled after the call connects."""
    caller_id: str | None = Field(None, max_length=40)
    """Caller id shown to the transfer target; `{{customer.number}}` passes the customer's through."""
    transfer_plan: dict[str, Any] | None = None
    """TransferPlan (blind or warm transfer); default blind transfer. Stored verbatim."""
    message: str | CustomMessage | None = None
    """Spoken to the customer before the transfer."""
    description: str | None = None
    """Tells the model when to pick this destination."""

    _number_is_e164 = field_validator("number")(check_e164)


class TransferDestinationSip(VapiModel):
    """Transfer to a SIP URI."""

    type: Literal["sip"]
    sip_uri: str
    """`sip:user@host` address to transfer to."""
    sip_headers: dict[str, Any] | None = None
    """Extra SIP headers sent with the REFER / INVITE."""
    caller_id: str | None = Field(None, max_length=40)
    """Caller id shown to the transfer target."""
    transfer_plan: dict[str, Any] | None = None
    """TransferPlan, stored verbatim."""
    message: str | CustomMessage | None = None
    """Spoken to the customer before the transfer."""
    description: str | None = None
    """Tells the model when to pick this destination."""


class TransferDestinationAssistant(VapiModel):
    """Hand the call to another assistant of the squad."""

    type: Literal["assistant"]
    assistant_name: str
    """`name` of the squad member to transfer to."""
    transfer_mode: (
        Literal[
            "rolling-history",
            "swap-system-message-in-history",
            "swap-system-message-in-history-and-remove-transfer-tool-messages",
            "delete-history",
        ]
        | None
    ) = None
    """What happens to the conversation history; default `rolling-history`."""
    message: str | CustomMessage | None = None
    """Spoken before the transfer."""
    description: str | None = None
    """Tells the model when to pick this destination."""


PhoneDestination = Annotated[TransferDestinationNumber | TransferDestinationSip, Field(discriminator="type")]
"""Where a call can be transferred outside OpenCall (phone `fallbackDestination`, `call.destination`)."""

TransferDestination = Annotated[
    TransferDestinationAssistant | TransferDestinationNumber | TransferDestinationSip,
    Field(discriminator="type"),
]
"""A `transferCall` tool destination."""


class SchedulePlan(VapiModel):
    """When a scheduled call may start; the call waits in status `scheduled` until `earliestAt`."""

    earliest_at: datetime
    """Earliest start time (ISO 8601)."""
    latest_at: datetime | None = None
    """Latest start time; past it the call is not placed."""


class ToolRef(VapiModel):
    """A saved tool pinned to a version."""

    tool_id: str
    version: str


def partial_model(model: type[VapiModel], name: str) -> type[VapiModel]:
    """`model` with every field optional (default None): the Update*DTO of a Create*DTO."""
    fields: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        optional = copy(info)
        optional.default = None
        optional.default_factory = None
        annotation: Any = info.annotation
        fields[field_name] = (annotation | None, optional)
    validators: dict[str, Any] = {
        name: field_validator(*decorator.info.fields, mode=decorator.info.mode)(decorator.func)
        for name, decorator in model.__pydantic_decorators__.field_validators.items()
    }
    base = PassthroughModel if model.model_config.get("extra") == "allow" else VapiModel
    partial: type[VapiModel] = create_model(
        name, __base__=base, __doc__=model.__doc__, __validators__=validators, **fields
    )
    return partial


def union_members(union: Any, discriminator: str) -> dict[str, type[VapiModel]]:
    """Tag → member class of a discriminated union `Annotated[A | B, Field(discriminator=...)]`."""
    members: dict[str, type[VapiModel]] = {}
    for member in get_args(get_args(union)[0]):
        for tag in get_args(member.model_fields[discriminator].annotation):
            if tag is not None:
                members[tag] = member
    return members


EMBEDDED_PROVIDER_ALIASES = frozenset({"opencall-llama", "opencall-piper", "opencall-whisper"})
"""Earlier spellings of the embedded providers; stored as Vapi's own `vapi`, which the SDKs parse."""


def canonical_vapi_provider(cls: type, value: str) -> str:
    """Field validator: the embedded providers are stored under Vapi's `vapi` provider name."""
    return "vapi" if value in EMBEDDED_PROVIDER_ALIASES else value

