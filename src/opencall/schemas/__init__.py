"""The Vapi contract as pydantic models; see the submodules (`assistant`, `call`, `tools`, ...)."""

from opencall.schemas.assistant import Assistant, AssistantOverrides, CreateAssistantDTO, UpdateAssistantDTO
from opencall.schemas.call import (
    Call,
    CallBatchResponse,
    CreateCallDTO,
    CreateCustomerDTO,
    DeleteCallDTO,
    UpdateCallDTO,
)
from opencall.schemas.errors import vapi_messages
from opencall.schemas.file import File, UpdateFileDTO
from opencall.schemas.launch import CreateAssistantRequest, CreateCallRequest, apply_embedded_defaults
from opencall.schemas.llm_models import LLMModel
from opencall.schemas.phone_number import (
    CreatePhoneNumberDTO,
    PhoneNumber,
    PhoneNumberPaginatedResponse,
    UpdatePhoneNumberDTO,
    validate_phone_number_update,
)
from opencall.schemas.squad import CreateSquadDTO, Squad, UpdateSquadDTO
from opencall.schemas.tools import CreateToolDTO, Tool, UpdateToolDTO, validate_tool_update
from opencall.schemas.transcribers import Transcriber
from opencall.schemas.voices import Voice

__all__ = [
    "Assistant",
    "AssistantOverrides",
    "Call",
    "CallBatchResponse",
    "CreateAssistantDTO",
    "CreateAssistantRequest",
    "CreateCallDTO",
    "CreateCallRequest",
    "CreateCustomerDTO",
    "CreatePhoneNumberDTO",
    "CreateSquadDTO",
    "CreateToolDTO",
    "DeleteCallDTO",
    "File",
    "LLMModel",
    "PhoneNumber",
    "PhoneNumberPaginatedResponse",
    "Squad",
    "Tool",
    "Transcriber",
    "UpdateAssistantDTO",
    "UpdateCallDTO",
    "UpdateFileDTO",
    "UpdatePhoneNumberDTO",
    "UpdateSquadDTO",
    "UpdateToolDTO",
    "Voice",
    "apply_embedded_defaults",
    "validate_phone_number_update",
    "validate_tool_update",
    "vapi_messages",
]
