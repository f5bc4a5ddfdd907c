"""The caller's keypad (`keypadInputPlan`): digits are gathered, then given to the conversation as text.

Digits are sent when a delimiter is pressed, or `timeoutSeconds` after the last key (default 2 s,
Vapi's). They reach the model as the caller's turn through the engine's `push_user_text`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger("opencall.transport.twilio")

DEFAULT_TIMEOUT_SECONDS = 2.0  # KeypadInputPlan.timeoutSeconds default (Vapi spec)
DEFAULT_DELIMITERS = ("#",)


class Keypad:
    def __init__(self, plan: dict[str, Any] | None, engine: Any) -> None:
        plan = plan or {}
        self.enabled = bool(plan.get("enabled"))
        timeout = plan.get("timeoutSeconds")
        self._timeout = DEFAULT_TIMEOUT_SECONDS if timeout is None else float(timeout)
        delimiters = plan.get("delimiters", DEFAULT_DELIMITERS)
        self._delimiters = tuple(d for d in ([delimiters] if isinstance(delimiters, str) else delimiters) if d)
        self._engine = engine
        self._digits = ""
        self._timer: asyncio.TimerHandle | None = None
        self.pressed: list[str] = []
        self.sent: list[str] = []

    async def press(self, digit: str) -> None:
        if not digit:
            return
        self.pressed.append(digit)
        if not self.enabled:
            return
        if digit in self._delimiters:
            await self._send()
            return
        self._digits += digit
        self._restart_timer()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _restart_timer(self) -> None:
        self.close()
        if self._timeout > 0:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._timeout, lambda: loop.create_task(self._send()))

    async def _send(self) -> None:
        self.close()
        digits, self._digits = self._digits, ""
        if not digits:
            return
        self.sent.append(digits)
        push = getattr(self._engine, "push_user_text", None)
        if push is None:
            log.warning("call %s: keypad input %s dropped: the engine takes no text turns",
                        self._engine.setup.call_id, digits)
            return
        await push(digits)
