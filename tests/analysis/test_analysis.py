"""End-of-call analysis against the OpenAI simulator (and once against the embedded SmolLM2).

The conversation is a scripted dental-appointment call. The simulator answers the summary prompt
from the transcript it was sent, so a summary that mentions the topic proves the transcript reached
the model; structured data is checked against the plan's schema with `jsonschema` in every test.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from opencall.analysis import analysis_deadline_seconds, analyze_call
from opencall.analysis.analyze import pass_fail
from opencall.analysis.structured import parse_json, strict_compatible
from opencall.settings import Settings
from tests.sim.openai import Failure, OpenAISim, Reply, Turn

SYSTEM_PROMPT = "You are the receptionist of Bright Smile Dental. Book cleanings and check-ups."
CONVERSATION: list[dict[str, Any]] = [
    {"role": "system", "message": SYSTEM_PROMPT, "time": 0, "secondsFromStart": 0},
    {"role": "bot", "message": "Thanks for calling Bright Smile Dental, how can I help?", "secondsFromStart": 0.4},
    {"role": "user", "message": "Hi, I'd like to book a teeth cleaning appointment.", "secondsFromStart": 3.1},
    {"role": "bot", "message": "Of course. What's your name, and which day suits you?", "secondsFromStart": 6.0},
    {"role": "user", "message": "Maria Lopez. Tuesday morning, please. I'm a new patient.", "secondsFromStart": 9.2},
    {"role": "bot", "message": "You're booked for a cleaning on Tuesday at 10 am, Maria.", "secondsFromStart": 13.5},
]
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "patientName": {"type": "string"},
        "appointmentDay": {"type": "string", "enum": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]},
        "isNewPatient": {"type": "boolean"},
    },
    "required": ["patientName", "appointmentDay", "isNewPatient"],
}
EXTRACTED = {"patientName": "Maria Lopez", "appointmentDay": "Tuesday", "isNewPatient": True}
NOTE_TAKER = "You are an expert note-taker"
EVALUATOR = "You are an expert call evaluator"


def assistant(provider: str = "openai", **analysis_plan: Any) -> dict[str, Any]:
    plan = {"structuredDataPlan": {"enabled": True, "schema": SCHEMA}, **analysis_plan}
    return {
        "model": {
            "provider": provider,
            "model": "gpt-4o-mini",
            "messages": [{"role": "system", "content": SYSTEM_PROMPT}],
        },
        "credentials": [{"provider": "openai", "apiKey": "sk-sim"}],
        "analysisPlan": plan,
    }


def user_lines(body: dict[str, Any]) -> list[str]:
    prompt = "\n".join(str(m.get("content")) for m in body["messages"])
    return re.findall(r"^User: (.*)$", prompt, flags=re.MULTILINE)


def kind(body: dict[str, Any]) -> str:
    if "response_format" in body:
        return "structured"
    system = str(body["messages"][0]["content"])
    return "summary" if system.startswith(NOTE_TAKER) else "evaluation" if system.startswith(EVALUATOR) else "?"


def dental_script(structured: list[str] | None = None, summary_delay: float = 0.0) -> Any:
    """Summary from the transcript's user lines; structured answers in order (default: the valid JSON)."""
    answers = list(structured or [json.dumps(EXTRACTED)])

    def reply(body: dict[str, Any]) -> Turn:
        part = kind(body)
        if part == "summary":
            said = " ".join(user_lines(body))
            return Reply(f"The caller phoned the dental office and said: {said}", ttft_s=summary_delay)
        if part == "structured":
            return Reply(answers.pop(0) if len(answers) > 1 else answers[0])
        if part == "evaluation":
            return Reply("true.")
        return Failure(400, "unexpected prompt")

    return reply


@pytest.fixture
async def sim_settings(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[tuple[OpenAISim, Settings]]:
    sim = OpenAISim(getattr(request, "param", None) or dental_script())
    async with sim.serve() as url:
        yield sim, Settings(data_dir=tmp_path, cloud_base_urls={"openai": url})


def requests_of(sim: OpenAISim, part: str) -> list[dict[str, Any]]:
    return [r.body for r in sim.requests if kind(r.body) == part]


async def test_dental_call_gets_summary_structured_data_and_evaluation(
    sim_settings: tuple[OpenAISim, Settings],
) -> None:
    sim, settings = sim_settings
    analysis = await analyze_call(CONVERSATION, assistant(), settings, ended_reason="customer-ended-call")

    assert set(analysis) == {"summary", "structuredData", "successEvaluation"}
    assert "dental" in analysis["summary"].lower() and "cleaning" in analysis["summary"].lower()
    jsonschema.validate(analysis["structuredData"], SCHEMA)
    assert analysis["structuredData"] == EXTRACTED
    assert analysis["successEvaluation"] == "true"

    (summary,) = requests_of(sim, "summary")
    transcript = summary["messages"][1]["content"]
    assert "AI: Thanks for calling Bright Smile Dental, how can I help?\nUser: Hi, I'd like to book" in transcript
    assert "customer-ended-call" in transcript
    (evaluation,) = requests_of(sim, "evaluation")
    assert "A simple 'true' if call passed, 'false' if not." in evaluation["messages"][0]["content"]
    assert SYSTEM_PROMPT in evaluation["messages"][2]["content"]


async def test_structured_data_request_carries_the_schema_as_response_format(
    sim_settings: tuple[OpenAISim, Settings],
) -> None:
    sim, settings = sim_settings
    await analyze_call(CONVERSATION, assistant(), settings)

    (structured,) = requests_of(sim, "structured")
    assert structured["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "structured_data", "schema": SCHEMA, "strict": False},
    }
    assert json.dumps(SCHEMA) in structured["messages"][0]["content"]
    assert structured["temperature"] == 0.0 and "tools" not in structured


def test_strict_mode_is_asked_only_for_schemas_openai_accepts_strictly() -> None:
    assert not strict_compatible(SCHEMA)  # objects not closed with additionalProperties: false
    assert strict_compatible({**SCHEMA, "additionalProperties": False})
    nested = {
        "type": "object",
        "properties": {"visit": {"type": "object", "properties": {"day": {"type": "string"}}}},
        "required": ["visit"],
        "additionalProperties": False,
    }
    assert not strict_compatible(nested)


@pytest.mark.parametrize("sim_settings", [dental_script(["Sure! Maria, Tuesday.", json.dumps(EXTRACTED)])],
                         indirect=True)
async def test_invalid_json_is_retried_with_the_reason(sim_settings: tuple[OpenAISim, Settings]) -> None:
    sim, settings = sim_settings
    analysis = await analyze_call(CONVERSATION, assistant(), settings)

    jsonschema.validate(analysis["structuredData"], SCHEMA)
    first, second = requests_of(sim, "structured")
    assert second["messages"][-2] == {"role": "assistant", "content": "Sure! Maria, Tuesday."}
    assert "invalid" in second["messages"][-1]["content"]


WRONG_TYPE = json.dumps({**EXTRACTED, "isNewPatient": "yes"})


@pytest.mark.parametrize("sim_settings", [dental_script(["not json at all", WRONG_TYPE])], indirect=True)
async def test_output_invalid_twice_is_omitted_and_logged_never_raised(
    sim_settings: tuple[OpenAISim, Settings], caplog: pytest.LogCaptureFixture
) -> None:
    sim, settings = sim_settings
    with caplog.at_level(logging.WARNING, logger="opencall.analysis"):
        analysis = await analyze_call(CONVERSATION, assistant(), settings, call_id="call-123")

    assert "structuredData" not in analysis
    assert analysis["summary"] and analysis["successEvaluation"] == "true"
    assert len(requests_of(sim, "structured")) == 2
    omitted = [r for r in caplog.records if "structuredData omitted" in r.getMessage()]
    assert len(omitted) == 1
    assert getattr(omitted[0], "call_id", None) == "call-123"
    assert "isNewPatient: 'yes' is not of type 'boolean'" in omitted[0].getMessage()


@pytest.mark.parametrize("sim_settings", [dental_script(summary_delay=3.0)], indirect=True)
async def test_a_slow_part_is_cut_at_its_timeout_without_holding_the_others(
    sim_settings: tuple[OpenAISim, Settings],
) -> None:
    _, settings = sim_settings
    slow = assistant(summaryPlan={"timeoutSeconds": 1})
    started = time.monotonic()
    analysis = await analyze_call(CONVERSATION, slow, settings)
    elapsed = time.monotonic() - started

    assert "summary" not in analysis
    assert analysis["successEvaluation"] == "true"
    jsonschema.validate(analysis["structuredData"], SCHEMA)
    assert elapsed < analysis_deadline_seconds(slow["analysisPlan"])
    assert elapsed < 2.0


def failing_evaluation(body: dict[str, Any]) -> Turn:
    return Failure(503) if kind(body) == "evaluation" else dental_script()(body)


@pytest.mark.parametrize("sim_settings", [failing_evaluation], indirect=True)
async def test_a_failing_part_is_omitted(sim_settings: tuple[OpenAISim, Settings]) -> None:
    _, settings = sim_settings
    analysis = await analyze_call(CONVERSATION, assistant(), settings)
    assert set(analysis) == {"summary", "structuredData"}


async def test_short_calls_and_disabled_parts_ask_nothing(sim_settings: tuple[OpenAISim, Settings]) -> None:
    sim, settings = sim_settings
    assert await analyze_call(CONVERSATION[:2], assistant(), settings) == {}
    off = assistant(summaryPlan={"enabled": False}, successEvaluationPlan={"enabled": False},
                    structuredDataPlan={"enabled": False, "schema": SCHEMA})
    assert await analyze_call(CONVERSATION, off, settings) == {}
    assert await analyze_call(CONVERSATION, assistant(minMessagesThreshold=10), settings) == {}
    assert sim.requests == []


async def test_custom_prompt_and_rubric_are_used(sim_settings: tuple[OpenAISim, Settings]) -> None:
    sim, settings = sim_settings
    custom = assistant(
        summaryPlan={"messages": [
            {"role": "system", "content": f"{NOTE_TAKER}. One line."},
            {"role": "user", "content": "Call for: {{systemPrompt}}\n{{transcript}}"},
        ]},
        successEvaluationPlan={"rubric": "NumericScale"},
    )
    analysis = await analyze_call(CONVERSATION, custom, settings)
    (summary,) = requests_of(sim, "summary")
    assert summary["messages"][1]["content"].startswith(f"Call for: {SYSTEM_PROMPT}\nAI: Thanks")
    (evaluation,) = requests_of(sim, "evaluation")
    assert "A scale of 1 to 10." in evaluation["messages"][0]["content"]
    assert analysis["successEvaluation"] == "true."  # only PassFail answers are normalised


async def test_a_model_that_cannot_be_built_gives_no_analysis(tmp_path: Path) -> None:
    no_key = {**assistant(), "credentials": []}
    assert await analyze_call(CONVERSATION, no_key, Settings(data_dir=tmp_path)) == {}


def test_deadline_is_the_slowest_enabled_part_plus_a_margin() -> None:
    assert analysis_deadline_seconds(None) == 5.5
    plan = {"summaryPlan": {"timeoutSeconds": 12}, "structuredDataPlan": {"schema": SCHEMA, "timeoutSeconds": 20}}
    assert analysis_deadline_seconds(plan) == 20.5
    plan["structuredDataPlan"] = {"timeoutSeconds": 20}  # no schema: structured data does not run
    assert analysis_deadline_seconds(plan) == 12.5
    off = {"summaryPlan": {"enabled": False}, "successEvaluationPlan": {"enabled": False}}
    assert analysis_deadline_seconds(off) == 0.0


def test_answers_are_read_leniently_but_validated_strictly() -> None:
    assert parse_json('```json\n{"a": 1}\n```') == {"a": 1}
    assert parse_json('Here you go: {"a": [1, 2]} hope it helps') == {"a": [1, 2]}
    assert pass_fail("True.") == "true" and pass_fail("Fail - the caller hung up") == "false"
    assert pass_fail("maybe") == "maybe"


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_embedded_smollm2_structured_data_validates(tmp_path: Path) -> None:
    """SmolLM2-135M left to itself rambles past the timeout (measured: 3 of 3 runs); under llama.cpp's
    JSON-schema grammar it answers valid JSON (3 of 3, 17-29 s each on 2 loaded cores)."""
    local = {
        "model": {"provider": "vapi", "messages": [{"role": "system", "content": SYSTEM_PROMPT}]},
        "analysisPlan": {
            "structuredDataPlan": {"enabled": True, "schema": SCHEMA, "timeoutSeconds": 60},
            "summaryPlan": {"enabled": False},
            "successEvaluationPlan": {"enabled": False},
        },
    }
    analysis = await analyze_call(CONVERSATION, local, Settings(data_dir=tmp_path))
    jsonschema.validate(analysis["structuredData"], SCHEMA)
    assert analysis["structuredData"]["patientName"] == "Maria Lopez"
