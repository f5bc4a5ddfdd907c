"""Our models are a superset of Vapi's spec: every property, the same limits, no extra required field.

The spec subset is extracted by `tests/fixtures/extract_spec.py` from the saved 3 MB spec.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import annotated_types
import pytest
from pydantic import BaseModel

from opencall.schemas.assistant import Assistant, AssistantOverrides, CreateAssistantDTO
from opencall.schemas.call import (
    AudioFormat,
    Call,
    CreateCallDTO,
    CreateCustomerDTO,
    Transport,
    UpdateCallDTO,
)
from opencall.schemas.common import (
    BackoffPlan,
    Server,
    TransferDestinationAssistant,
    TransferDestinationNumber,
    TransferDestinationSip,
    union_members,
)
from opencall.schemas.file import File, UpdateFileDTO
from opencall.schemas.llm_models import OPENAI_MODEL_IDS, CustomLLMModel, LLMModel, OpenAIMessage, OpenAIModel
from opencall.schemas.phone_number import (
    CreateByoPhoneNumberDTO,
    CreatePhoneNumberDTO,
    CreateTelnyxPhoneNumberDTO,
    CreateTwilioPhoneNumberDTO,
    CreateVapiPhoneNumberDTO,
    CreateVonagePhoneNumberDTO,
    ImportTwilioPhoneNumberDTO,
    PaginationMeta,
)
from opencall.schemas.plans import (
    AnalysisPlan,
    ArtifactPlan,
    KeypadInputPlan,
    MonitorPlan,
    StartSpeakingPlan,
    StopSpeakingPlan,
    StructuredDataPlan,
    SuccessEvaluationPlan,
    SummaryPlan,
    TranscriptionEndpointingPlan,
)
from opencall.schemas.squad import CreateSquadDTO, SquadMemberDTO
from opencall.schemas.tools import (
    CreateApiRequestToolDTO,
    CreateDtmfToolDTO,
    CreateEndCallToolDTO,
    CreateFunctionToolDTO,
    CreateToolDTO,
    CreateTransferCallToolDTO,
    OpenAIFunction,
)
from opencall.schemas.transcribers import DeepgramTranscriber, Transcriber
from opencall.schemas.voices import OPENAI_VOICE_IDS, ChunkPlan, ElevenLabsVoice, OpenAIVoice, Voice

SPEC = json.loads((Path(__file__).resolve().parents[1] / "fixtures/vapi-spec-subset.json").read_text())

MODELS: dict[str, type[BaseModel]] = {
    "CreateAssistantDTO": CreateAssistantDTO,
    "AssistantOverrides": AssistantOverrides,
    "Assistant": Assistant,
    "CreateCallDTO": CreateCallDTO,
    "Call": Call,
    "CreateCustomerDTO": CreateCustomerDTO,
    "UpdateCallDTO": UpdateCallDTO,
    "AudioFormat": AudioFormat,
    "CreateTwilioPhoneNumberDTO": CreateTwilioPhoneNumberDTO,
    "CreateVonagePhoneNumberDTO": CreateVonagePhoneNumberDTO,
    "CreateTelnyxPhoneNumberDTO": CreateTelnyxPhoneNumberDTO,
    "CreateVapiPhoneNumberDTO": CreateVapiPhoneNumberDTO,
    "CreateByoPhoneNumberDTO": CreateByoPhoneNumberDTO,
    "ImportTwilioPhoneNumberDTO": ImportTwilioPhoneNumberDTO,
    "PaginationMeta": PaginationMeta,
    "CreateFunctionToolDTO": CreateFunctionToolDTO,
    "CreateEndCallToolDTO": CreateEndCallToolDTO,
    "CreateDtmfToolDTO": CreateDtmfToolDTO,
    "CreateTransferCallToolDTO": CreateTransferCallToolDTO,
    "CreateApiRequestToolDTO": CreateApiRequestToolDTO,
    "OpenAIFunction": OpenAIFunction,
    "TransferDestinationNumber": TransferDestinationNumber,
    "TransferDestinationSip": TransferDestinationSip,
    "TransferDestinationAssistant": TransferDestinationAssistant,
    "CreateSquadDTO": CreateSquadDTO,
    "SquadMemberDTO": SquadMemberDTO,
    "File": File,
    "UpdateFileDTO": UpdateFileDTO,
    "OpenAIModel": OpenAIModel,
    "CustomLLMModel": CustomLLMModel,
    "OpenAIMessage": OpenAIMessage,
    "OpenAIVoice": OpenAIVoice,
    "ElevenLabsVoice": ElevenLabsVoice,
    "ChunkPlan": ChunkPlan,
    "DeepgramTranscriber": DeepgramTranscriber,
    "Server": Server,
    "BackoffPlan": BackoffPlan,
    "StartSpeakingPlan": StartSpeakingPlan,
    "StopSpeakingPlan": StopSpeakingPlan,
    "TranscriptionEndpointingPlan": TranscriptionEndpointingPlan,
    "ArtifactPlan": ArtifactPlan,
    "AnalysisPlan": AnalysisPlan,
    "SummaryPlan": SummaryPlan,
    "StructuredDataPlan": StructuredDataPlan,
    "SuccessEvaluationPlan": SuccessEvaluationPlan,
    "MonitorPlan": MonitorPlan,
    "KeypadInputPlan": KeypadInputPlan,
}

DELIBERATE_LIMITS = {
    ("AudioFormat", "sampleRate"): {"minimum": 8000},  # spec allows 0; below 8 kHz is not usable speech
    ("CreateSquadDTO", "members"): {"minLength": 1},  # the call starts with members[0]
}
"""(schema, property) → limits where OpenCall deliberately differs from the spec."""

DELIBERATELY_OPTIONAL = {
    ("AudioFormat", "sampleRate"),  # defaults to 16000
    ("AudioFormat", "format"),  # defaults to pcm_s16le
}
"""Properties the spec requires that OpenCall defaults instead."""


def wire_names(model: type[BaseModel]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


def our_limits(model: type[BaseModel], wire_name: str) -> dict[str, Any]:
    field = next(f for name, f in model.model_fields.items() if (f.alias or name) == wire_name)
    kinds = {
        annotated_types.Ge: ("minimum", "ge"),
        annotated_types.Le: ("maximum", "le"),
        annotated_types.MinLen: ("minLength", "min_length"),
        annotated_types.MaxLen: ("maxLength", "max_length"),
    }
    limits: dict[str, Any] = {}
    for constraint in field.metadata:
        for kind, (spec_name, attribute) in kinds.items():
            if isinstance(constraint, kind):
                limits[spec_name] = getattr(constraint, attribute)
    return limits


@pytest.mark.parametrize("schema", sorted(MODELS))
def test_model_has_every_property_of_the_spec_schema(schema: str) -> None:
    missing = set(SPEC["schemas"][schema]["properties"]) - wire_names(MODELS[schema])
    assert not missing, f"{schema} lacks {sorted(missing)}"


@pytest.mark.parametrize("schema", sorted(MODELS))
def test_model_enforces_the_spec_limits(schema: str) -> None:
    for prop, spec_limits in SPEC["schemas"][schema]["properties"].items():
        expected = {**spec_limits, **DELIBERATE_LIMITS.get((schema, prop), {})}
        assert our_limits(MODELS[schema], prop) == expected, f"{schema}.{prop}"


@pytest.mark.parametrize("schema", sorted(MODELS))
def test_model_requires_what_the_spec_requires_and_nothing_more(schema: str) -> None:
    model = MODELS[schema]
    ours = {field.alias or name for name, field in model.model_fields.items() if field.is_required()}
    spec = set(SPEC["schemas"][schema]["required"]) - {prop for (name, prop) in DELIBERATELY_OPTIONAL if name == schema}
    assert ours == spec


@pytest.mark.parametrize(
    ("union", "field", "spec_tags", "ours_only"),
    [
        # `vapi` is Vapi's own and runs the embedded model here; the opencall-* names are its aliases.
        (LLMModel, "provider", "model", {"opencall-llama"}),
        (Voice, "provider", "voice", {"opencall-piper", "opencall-espeak"}),
        (Transcriber, "provider", "transcriber", {"opencall-whisper"}),
        (Transport, "provider", "transport", set()),
        (CreateToolDTO, "type", "tool", set()),
        (CreatePhoneNumberDTO, "provider", "phoneNumber", set()),
    ],
)
def test_union_covers_every_vapi_variant_plus_the_embedded_ones(
    union: Any, field: str, spec_tags: str, ours_only: set[str]
) -> None:
    assert set(union_members(union, field)) == set(SPEC["tags"][spec_tags]) | ours_only


def test_openai_id_lists_are_the_spec_enums() -> None:
    assert OPENAI_MODEL_IDS == set(SPEC["enums"]["openaiModelIds"])
    assert OPENAI_VOICE_IDS == set(SPEC["enums"]["openaiVoiceIds"])
