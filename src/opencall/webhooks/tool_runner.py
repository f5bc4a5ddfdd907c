"""Function tools run on the customer's server: `tool-calls` sent at once, the reply fed to the model.

Target precedence for tool-calls (vapi-api.md §4.1): the tool's own `server` > the call's/assistant's
> the phone number's > the org's. The message carries the full envelope, and the request is signed
like every other server message.
"""

from __future__ import annotations

import json
from typing import Any

from opencall.engine.tools import tool_result_text, vapi_tool_call
from opencall.providers.base import ToolCallRequest
from opencall.webhooks.messages import envelope
from opencall.webhooks.send import DEFAULT_TIMEOUT_SECONDS, WebhookError, request_reply


class ServerToolRunner:
    def __init__(self, publisher: Any) -> None:
        self._publisher = publisher
        """The call's CallPublisher: its call snapshot, assistant, phone number and fallback server."""

    async def run(self, call: ToolCallRequest, tool_config: dict[str, Any]) -> str:
        own = tool_config.get("server") or {}
        server = own if own.get("url") else self._publisher.server
        if not server:
            return json.dumps({"error": f"tool {call.name} has no server url (tool, assistant, number or org)"})
        message = {
            "type": "tool-calls",
            "toolCallList": [vapi_tool_call(call)],
            "toolWithToolCallList": [{**tool_config, "toolCall": vapi_tool_call(call)}],
        }
        body = envelope(message, self._publisher.call, self._publisher.assistant, self._publisher.phone_number)
        timeout = float(server.get("timeoutSeconds") or DEFAULT_TIMEOUT_SECONDS)
        try:
            reply = await request_reply(server, body["message"], timeout_seconds=timeout,
                                        org_id=self._publisher.org_id)
        except WebhookError as exc:
            return json.dumps({"error": f"tool server failed: {exc}"})
        return tool_result_text(call.id, reply)
