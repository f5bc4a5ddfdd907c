"""Vapi's default analysis prompts and the `{{variable}}` substitution they use.

The default messages and rubric texts are copied from the `@default` blocks of SummaryPlan,
StructuredDataPlan and SuccessEvaluationPlan in Vapi's OpenAPI spec (vapi-openapi.json), so an
assistant moved from Vapi gets the same prompts here. The spec writes `Json Schema:\\n` and `Rubric:\\n`
with an escaped backslash (a literal `\n` reaches the model); we send the newline it means.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SUMMARY_MESSAGES = (
    {
        "role": "system",
        "content": "You are an expert note-taker. You will be given a transcript of a call. Summarize the call "
        "in 2-3 sentences. DO NOT return anything except the summary.",
    },
    {
        "role": "user",
        "content": "Here is the transcript:\n\n{{transcript}}\n\n. Here is the ended reason of the call:\n\n"
        "{{endedReason}}\n\n",
    },
)

STRUCTURED_DATA_MESSAGES = (
    {
        "role": "system",
        "content": "You are an expert data extractor. You will be given a transcript of a call. Extract "
        "structured data per the JSON Schema. DO NOT return anything except the structured data.\n\n"
        "Json Schema:\n{{schema}}\n\nOnly respond with the JSON.",
    },
    {
        "role": "user",
        "content": "Here is the transcript:\n\n{{transcript}}\n\n. Here is the ended reason of the call:\n\n"
        "{{endedReason}}\n\n",
    },
)

SUCCESS_EVALUATION_MESSAGES = (
    {
        "role": "system",
        "content": "You are an expert call evaluator. You will be given a transcript of a call and the system "
        "prompt of the AI participant. Determine if the call was successful based on the objectives "
        "inferred from the system prompt. DO NOT return anything except the result.\n\n"
        "Rubric:\n{{rubric}}\n\nOnly respond with the result.",
    },
    {"role": "user", "content": "Here is the transcript:\n\n{{transcript}}\n\n"},
    {
        "role": "user",
        "content": "Here was the system prompt of the call:\n\n{{systemPrompt}}\n\n. Here is the ended reason "
        "of the call:\n\n{{endedReason}}\n\n",
    },
)

RUBRICS = {
    "NumericScale": "A scale of 1 to 10.",
    "DescriptiveScale": "A scale of Excellent, Good, Fair, Poor.",
    "Checklist": "A checklist of criteria and their status.",
    "Matrix": "A grid that evaluates multiple criteria across different performance levels.",
    "PercentageScale": "A scale of 0% to 100%.",
    "LikertScale": "A scale of Strongly Agree, Agree, Neutral, Disagree, Strongly Disagree.",
    "AutomaticRubric": "Automatically break down evaluation into several criteria, each with its own score.",
    "PassFail": "A simple 'true' if call passed, 'false' if not.",
}
DEFAULT_RUBRIC = "PassFail"

_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@dataclass(frozen=True, slots=True)
class CallText:
    """What the prompts can refer to: Vapi's template variables for analysis."""

    transcript: str
    system_prompt: str
    model_messages: list[dict[str, Any]]
    ended_reason: str

    def variables(self) -> dict[str, str]:
        return {
            "transcript": self.transcript,
            "systemPrompt": self.system_prompt,
            "messages": json.dumps(self.model_messages),
            "endedReason": self.ended_reason,
        }


def render(messages: Sequence[Mapping[str, Any]], variables: Mapping[str, str]) -> list[dict[str, Any]]:
    """The prompt messages with `{{name}}` replaced; unknown names stay as written (as Liquid leaves them)."""

    def substitute(match: re.Match[str]) -> str:
        return variables.get(match.group(1), match.group(0))

    out = []
    for message in messages:
        content = message.get("content")
        rendered = _VARIABLE.sub(substitute, content) if isinstance(content, str) else content
        out.append({**message, "content": rendered})
    return out


def _text(message: Mapping[str, Any]) -> str:
    text = message.get("message", message.get("content"))
    if isinstance(text, list):  # OpenAI content parts
        return "".join(str(p.get("text", "")) for p in text if isinstance(p, Mapping))
    return str(text or "").strip()


def call_text(
    messages: Sequence[Mapping[str, Any]], assistant: Mapping[str, Any], ended_reason: str = ""
) -> CallText:
    """The transcript (`AI: ...` / `User: ...` lines, like `artifact.transcript`) and the system prompt.

    `messages` may be Vapi's artifact messages (`role` bot/user, `message`) or OpenAI's (`role`
    assistant/user, `content`); tool calls and results are not part of the spoken transcript.
    """
    plan = (assistant.get("artifactPlan") or {}).get("transcriptPlan") or {}
    names = {"bot": plan.get("assistantName") or "AI", "user": plan.get("userName") or "User"}
    names["assistant"] = names["bot"]
    model_messages = [dict(m) for m in (assistant.get("model") or {}).get("messages") or []]
    system = [_text(m) for m in model_messages if m.get("role") == "system"]
    lines = []
    for message in messages:
        role = str(message.get("role"))
        text = _text(message)
        if role == "system" and not system:
            system.append(text)
        elif role in names and text:
            lines.append(f"{names[role]}: {text}")
    return CallText("\n".join(lines), "\n".join(s for s in system if s), model_messages, ended_reason)


def spoken_count(messages: Sequence[Mapping[str, Any]]) -> int:
    """Messages that count toward `minMessagesThreshold`: what the user and the assistant said."""
    return sum(1 for m in messages if m.get("role") in ("user", "bot", "assistant") and _text(m))
