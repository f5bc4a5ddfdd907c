"""The assistant's tools by name, and the default runner for function tools.

`endCall` is handled by the engine itself. A function tool with a `server.url` is run by posting
Vapi's `tool-calls` server message there and reading `{"results": [{toolCallId, result}]}`
(vapi-api.md §4.2).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

from opencall.providers.base import ToolCallRequest

END_CALL = "endCall"
DEFAULT_TOOL_TIMEOUT_SECONDS = 20.0  # Server.timeoutSeconds default (vapi-api.md §4.1)


@dataclass(frozen=True, slots=True)
class ToolSet:
    """The assistant's tool JSON by the function name the model calls (definitions: registry.openai_tool)."""

    configs: dict[str, dict[str, Any]]


def tool_set(assistant: dict[str, Any]) -> ToolSet:
    configs: dict[str, dict[str, Any]] = {}
    for tool in (assistant.get("model") or {}).get("tools") or []:
        if not isinstance(tool, dict):
            continue
        function = tool.get("function")
        if tool.get("type") == END_CALL:
            configs[END_CALL] = tool
        elif isinstance(function, dict) and function.get("name"):
            configs[str(function["name"])] = tool
    return ToolSet(configs)


def vapi_tool_call(call: ToolCallRequest) -> dict[str, Any]:
    """Vapi's ToolCall shape, plus the flattened fields lenient consumers read (vapi-api.md §4.2)."""
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
        "name": call.name,
        "arguments": call.arguments,
    }


class HttpToolRunner:
    """Posts `tool-calls` to the tool's `server.url` (else the assistant's) and returns the result."""

    def __init__(self, call_id: str, assistant: dict[str, Any], client: httpx.AsyncClient | None = None) -> None:
        self._call_id = call_id
        self._assistant_server = assistant.get("server") or {}
        self._client = client

    async def run(self, call: ToolCallRequest, tool_config: dict[str, Any]) -> str:
        server = tool_config.get("server") or self._assistant_server
        url = server.get("url")
        if not url:
            return json.dumps({"error": f"tool {call.name} has no server.url"})
        body = {
            "message": {
                "type": "tool-calls",
                "timestamp": int(time.time() * 1000),
                "call": {"id": self._call_id},
                "toolCallList": [vapi_tool_call(call)],
                "toolWithToolCallList": [{**tool_config, "toolCall": vapi_tool_call(call)}],
            }
        }
        headers = {"Content-Type": "application/json", **(server.get("headers") or {})}
        if server.get("secret"):
            headers["X-Vapi-Secret"] = str(server["secret"])
        timeout = float(server.get("timeoutSeconds") or DEFAULT_TOOL_TIMEOUT_SECONDS)
        try:
            if self._client is not None:
                response = await self._client.post(url, json=body, headers=headers, timeout=timeout)
            else:
                async with httpx.AsyncClient() as client:
                    response = await client.post(url, json=body, headers=headers, timeout=timeout)
            response.raise_for_status()
            payload = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            return json.dumps({"error": f"tool server failed: {exc}"})
        return tool_result_text(call.id, payload)


def tool_result_text(call_id: str, payload: Any) -> str:
    """The result string for the model from a tool server's reply `{"results": [{toolCallId, result}]}`."""
    if isinstance(payload, dict) and isinstance(payload.get("results"), list):
        for item in payload["results"]:
            if isinstance(item, dict) and item.get("toolCallId") in (call_id, None):
                if item.get("error") is not None:
                    return json.dumps({"error": item["error"]})
                result = item.get("result", "")
                return result if isinstance(result, str) else json.dumps(result)
    if isinstance(payload, dict) and payload.get("error") is not None:
        return json.dumps({"error": payload["error"]})
    return json.dumps(payload)
