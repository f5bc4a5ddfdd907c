"""Post-call analysis (`call.analysis`): summary, structured data, success evaluation.

The three parts run concurrently, each under its own plan's `timeoutSeconds`; a part that times
out, fails or produces nothing usable is left out of the result and the reason goes to the call's
log. Nothing here raises, and `analysis_deadline_seconds(plan)` bounds the whole, so the
end-of-call report can wait for the analysis without ever waiting longer than that.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any

from opencall.analysis.prompts import (
    DEFAULT_RUBRIC,
    RUBRICS,
    STRUCTURED_DATA_MESSAGES,
    SUCCESS_EVALUATION_MESSAGES,
    SUMMARY_MESSAGES,
    CallText,
    call_text,
    render,
    spoken_count,
)
from opencall.analysis.structured import parse_json, response_format, schema_problem, validation_error
from opencall.providers.base import ChatModel, ProviderError, TextDelta
from opencall.providers.registry import build_llm, model_request
from opencall.settings import Settings

logger = logging.getLogger("opencall.analysis")

DEFAULT_TIMEOUT_SECONDS = 5.0  # timeoutSeconds @default of SummaryPlan, StructuredDataPlan, SuccessEvaluationPlan
DEFAULT_MIN_MESSAGES = 2  # AnalysisPlan.minMessagesThreshold @default
DEADLINE_MARGIN_SECONDS = 0.5
"""Beyond the slowest part's timeout: cancelling a stream and gathering the results."""
DEFAULT_MODEL = {"provider": "vapi", "model": "smollm2-135m"}  # the engine's default model
SUMMARY_MAX_TOKENS = 300  # 2-3 sentences asked for, with room to spare
EVALUATION_MAX_TOKENS = 300
STRUCTURED_MAX_TOKENS = 1000
STRUCTURED_ATTEMPTS = 2  # one retry, told what was wrong with the first answer
BAD_REQUEST_SUFFIX = "400-bad-request-validation-failed"  # openai_compat's endedReason for an HTTP 400

Log = logging.Logger | logging.LoggerAdapter[logging.Logger]


class AnalysisFailed(Exception):
    """A part produced nothing usable; the message says why (it goes to the call's log)."""


def _part_plan(plan: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    part = plan.get(name)
    return part if isinstance(part, Mapping) else {}


def _timeout(part: Mapping[str, Any]) -> float:
    value = part.get("timeoutSeconds")
    return float(value) if value is not None else DEFAULT_TIMEOUT_SECONDS


def _enabled_parts(plan: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The parts that run: summary and success evaluation unless disabled (Vapi defaults); structured
    data only with a schema, since there is nothing to extract without one."""
    parts: dict[str, Mapping[str, Any]] = {}
    summary = _part_plan(plan, "summaryPlan")
    if summary.get("enabled") is not False:
        parts["summary"] = summary
    structured = _part_plan(plan, "structuredDataPlan")
    if structured.get("schema") and structured.get("enabled") is not False:
        parts["structuredData"] = structured
    evaluation = _part_plan(plan, "successEvaluationPlan")
    if evaluation.get("enabled") is not False:
        parts["successEvaluation"] = evaluation
    return parts


def analysis_deadline_seconds(plan: Mapping[str, Any] | None) -> float:
    """The longest `analyze_call` can take for this `analysisPlan` (None = Vapi's defaults)."""
    parts = _enabled_parts(plan or {})
    if not parts:
        return 0.0
    return max(_timeout(part) for part in parts.values()) + DEADLINE_MARGIN_SECONDS


async def analyze_call(
    messages: list[dict[str, Any]],
    assistant: dict[str, Any],
    settings: Settings,
    *,
    ended_reason: str = "",
    call_id: str | None = None,
) -> dict[str, Any]:
    """Vapi's `Analysis` `{summary?, structuredData?, successEvaluation?}` for a finished call.

    `messages` are the call's messages (Vapi artifact form or OpenAI form); `assistant` the resolved
    assistant (its `analysisPlan`, `model`, `artifactPlan.transcriptPlan`). With `call_id`, the
    reasons a part is missing are logged with the call id (so they show in `/call/{id}/call-logs`).
    """
    log: Log = logging.LoggerAdapter(logger, {"call_id": call_id}) if call_id else logger
    plan = assistant.get("analysisPlan") or {}
    threshold = plan.get("minMessagesThreshold")
    if spoken_count(messages) < (DEFAULT_MIN_MESSAGES if threshold is None else threshold):
        return {}
    parts = _enabled_parts(plan)
    if not parts:
        return {}
    model_cfg = assistant.get("model") or DEFAULT_MODEL
    try:
        llm = build_llm(model_cfg, settings, assistant.get("credentials") or ())
    except ProviderError as exc:
        log.warning("analysis skipped: no model: %s", exc)
        return {}
    text = call_text(messages, assistant, ended_reason)
    runner = _Runner(llm, model_cfg, text, log)
    jobs = {
        "summary": runner.summary,
        "structuredData": runner.structured_data,
        "successEvaluation": runner.success_evaluation,
    }
    names = list(parts)
    results = await asyncio.gather(*(_bounded(n, jobs[n](parts[n]), _timeout(parts[n]), log) for n in names))
    return {name: value for name, value in zip(names, results, strict=True) if value is not None}


async def _bounded(name: str, job: Awaitable[Any], timeout: float, log: Log) -> Any:
    try:
        return await asyncio.wait_for(job, timeout)
    except TimeoutError:
        log.warning("analysis %s omitted: no answer within %.1f s (timeoutSeconds)", name, timeout)
    except (AnalysisFailed, ProviderError) as exc:
        log.warning("analysis %s omitted: %s", name, exc)
    except Exception:
        # A bug in one part must not cost the call its report or the other parts.
        log.exception("analysis %s failed", name)
    return None


@dataclasses.dataclass
class _Runner:
    llm: ChatModel
    model_cfg: Mapping[str, Any]
    text: CallText
    log: Log

    async def complete(
        self, messages: Sequence[Mapping[str, Any]], max_tokens: int, extra: Mapping[str, Any] | None = None
    ) -> str:
        request = model_request(self.model_cfg, messages=messages, tools=[], extra_body=extra)
        # Deterministic: the same call analysed twice should read the same.
        request = dataclasses.replace(request, temperature=0.0, max_tokens=max_tokens)
        pieces = [event.text async for event in self.llm.stream(request) if isinstance(event, TextDelta)]
        return "".join(pieces).strip()

    async def summary(self, plan: Mapping[str, Any]) -> str:
        prompt = render(plan.get("messages") or SUMMARY_MESSAGES, self.text.variables())
        answer = await self.complete(prompt, SUMMARY_MAX_TOKENS)
        if not answer:
            raise AnalysisFailed("the model returned an empty summary")
        return answer

    async def success_evaluation(self, plan: Mapping[str, Any]) -> str:
        rubric = str(plan.get("rubric") or DEFAULT_RUBRIC)
        variables = {**self.text.variables(), "rubric": RUBRICS.get(rubric, rubric)}
        answer = await self.complete(render(plan.get("messages") or SUCCESS_EVALUATION_MESSAGES, variables),
                                     EVALUATION_MAX_TOKENS)
        if not answer:
            raise AnalysisFailed("the model returned an empty evaluation")
        return pass_fail(answer) if rubric == "PassFail" else answer

    async def structured_data(self, plan: Mapping[str, Any]) -> Any:
        schema = plan["schema"]
        if (problem := schema_problem(schema)) is not None:
            raise AnalysisFailed(problem)
        variables = {**self.text.variables(), "schema": json.dumps(schema)}
        prompt = render(plan.get("messages") or STRUCTURED_DATA_MESSAGES, variables)
        extra: dict[str, Any] = {"response_format": response_format(schema)}
        for attempt in range(1, STRUCTURED_ATTEMPTS + 1):
            try:
                answer = await self.complete(prompt, STRUCTURED_MAX_TOKENS, extra)
            except ProviderError as exc:
                if attempt == STRUCTURED_ATTEMPTS:
                    raise
                problem = str(exc)
                if exc.reason.endswith(BAD_REQUEST_SUFFIX):
                    extra = {}  # the server refuses `response_format`: ask in words, validate anyway
                self.log.warning("structuredData attempt %d failed: %s", attempt, problem)
                continue
            value, problem = checked(answer, schema)
            if problem is None:
                return value
            self.log.warning("structuredData attempt %d invalid: %s", attempt, problem)
            prompt = [
                *prompt,
                {"role": "assistant", "content": answer},
                {"role": "user", "content": f"That answer is invalid ({problem}). Reply with only JSON that "
                 "validates against the schema."},
            ]
        raise AnalysisFailed(f"no valid structured data after {STRUCTURED_ATTEMPTS} attempts: {problem}")


def checked(answer: str, schema: Mapping[str, Any]) -> tuple[Any, str | None]:
    """The JSON value in `answer` and None, or None and why it is unusable."""
    try:
        value = parse_json(answer)
    except json.JSONDecodeError as exc:
        return None, f"not JSON ({exc.msg}): {answer[:120]!r}"
    problem = validation_error(value, schema)
    return (None, f"schema violation at {problem}") if problem else (value, None)


def pass_fail(answer: str) -> str:
    """`"true"`/`"false"` when the answer clearly is one (models add punctuation or words); else as given."""
    words = answer.strip().strip(".!\"'`").lower().split()
    first = words[0].strip(".,:;!") if words else ""
    if first in ("true", "pass", "passed", "yes", "successful"):
        return "true"
    if first in ("false", "fail", "failed", "no", "unsuccessful"):
        return "false"
    return answer
