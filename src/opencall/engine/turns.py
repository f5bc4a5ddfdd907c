"""Who speaks when: a pure state machine on an injected clock.

The engine feeds it what it observes (VAD edges, final transcripts, Smart Turn verdicts, playback
starts and ends) with the time they happened; it answers with actions. It never reads a clock and
never sleeps, so every edge case runs in tests on a virtual clock (a 30 s silence costs no wall
time).

Design: the reply is *speculative*. As soon as the caller is silent and every segment is
transcribed, `StartReply` asks the model; the audio is held until `ReleaseReply`, which comes once
the endpoint is reached and `waitSeconds` have passed since the caller's last voiced sample. So
`waitSeconds` overlaps the pipeline's own latency instead of adding to it (Vapi: "This is the
minimum it will wait"). If the caller speaks again before the release, the reply is kept until the
new segment is transcribed: words mean the caller really continued (cancel, ask again with the
merged turn); no new words mean a VAD false start (keep the reply).

Transcripts are cumulative per user turn: each one is the transcriber's reading of the whole turn
so far. `CloseUserTurn` tells the engine to start a fresh transcription for the next turn.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from typing import Literal

from opencall.engine.plans import TurnConfig


@dataclass(frozen=True, slots=True)
class StartReply:
    reply_id: int
    text: str
    """The whole user turn so far (segments merged)."""


@dataclass(frozen=True, slots=True)
class CancelReply:
    reply_id: int


@dataclass(frozen=True, slots=True)
class ReleaseReply:
    reply_id: int
    text: str
    """The user turn this reply answers; it becomes the UserMessage now."""
    started_at: float
    last_voiced_at: float
    endpoint_at: float


@dataclass(frozen=True, slots=True)
class RetractReply:
    """The caller went on before a released reply made a sound: take it and its user turn back.

    The turn continues (same transcription) and is answered whole once it ends.
    """

    reply_id: int
    text: str
    """The user turn that was committed with it."""


@dataclass(frozen=True, slots=True)
class PauseBot:
    reply_id: int


@dataclass(frozen=True, slots=True)
class ResumeBot:
    reply_id: int


@dataclass(frozen=True, slots=True)
class InterruptBot:
    reply_id: int


@dataclass(frozen=True, slots=True)
class SpeakIdlePrompt:
    reply_id: int
    text: str


@dataclass(frozen=True, slots=True)
class CloseUserTurn:
    """The caller's turn was committed or discarded (a backchannel): transcribe afresh from here."""


@dataclass(frozen=True, slots=True)
class EndCall:
    reason: Literal["silence-timed-out", "exceeded-max-duration"]


Action = (
    StartReply
    | CancelReply
    | ReleaseReply
    | RetractReply
    | PauseBot
    | ResumeBot
    | InterruptBot
    | SpeakIdlePrompt
    | CloseUserTurn
    | EndCall
)

SUSPECTED_VOICE_HOLD_SECONDS = 0.15
"""Longest a release waits on unconfirmed voice: the VAD confirms or drops it within its 0.1 s start."""

_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
_ENDS_WITH_NUMBER = re.compile(r"\d[\s.,]*$")
_ENDS_WITH_PUNCTUATION = re.compile(r"[.?!][\"')\]]*\s*$")


def words(text: str) -> list[str]:
    """Lower-case words without apostrophes ("I'm" -> "im"), as Vapi's phrase lists spell them."""
    return [w.replace("'", "") for w in _WORD.findall(text.lower().replace("\u2019", "'"))]


@dataclass(slots=True)
class _BotTurn:
    reply_id: int
    interruptible: bool
    paused: bool = False
    audible: bool = True
    """False for a released reply whose audio has not started: it can still be taken back."""


@dataclass(slots=True)
class _UserTurn:
    text: str = ""
    """The latest transcript of the whole turn."""
    started_at: float | None = None
    last_voiced_at: float = 0.0
    endpoint_at: float | None = None
    smart_complete: bool | None = None


class TurnTaker:
    def __init__(self, config: TurnConfig, started_at: float) -> None:
        self.config = config
        self._started_at = started_at
        self._next_id = 0
        self._user = _UserTurn()
        self._speaking_since: float | None = None
        self._suspected_since: float | None = None
        """The VAD heard voice it has not confirmed as speech yet: maybe the caller goes on."""
        self._pause_at: float | None = None
        self._untranscribed: deque[float] = deque()
        """Last voiced time of each segment whose transcript is still due, oldest first."""
        self._reply: int | None = None
        self._reply_text = ""
        self._bot: _BotTurn | None = None
        self._held: _UserTurn | None = None
        """The user turn a released reply answers, until that reply is heard (see RetractReply)."""
        self._interrupted_at: float | None = None
        self._quiet_since = started_at
        """Last sound from either side; idle prompts count from here."""
        self._silent_since = started_at
        """Last sound other than an idle prompt; the silence timeout counts from here."""
        self._idle_prompts = 0
        self._idle_reply_ids: set[int] = set()
        self.ended = False

    # --- observations ---------------------------------------------------------------------

    def voice_suspected(self, now: float, active: bool) -> list[Action]:
        """Voice the VAD has not confirmed (`active`), or that it dropped as a false start."""
        self._suspected_since = now if active else None
        return self.tick(now)

    def user_started(self, now: float, onset_at: float) -> list[Action]:
        self._suspected_since = None
        self._speaking_since = onset_at
        if (unheard := self._unheard()) is not None:
            # Released, but nothing heard yet: hold it silent until the transcript tells whether the
            # caller went on (take it back, one turn) or it was a click (let it play).
            waiting = unheard[0]
            if waiting.paused:
                return self.tick(now)
            waiting.paused = True
            return [PauseBot(waiting.reply_id), *self.tick(now)]
        bot = self._bot
        if self._user.started_at is None:
            self._user.started_at = onset_at
        if bot and bot.interruptible and not bot.paused and self.config.num_words == 0:
            self._pause_at = onset_at + self.config.voice_seconds
        return self.tick(now)

    def user_stopped(self, now: float, last_voiced_at: float) -> list[Action]:
        self._speaking_since = None
        self._pause_at = None
        self._untranscribed.append(last_voiced_at)
        self._user.smart_complete = None
        self._quiet_since = max(self._quiet_since, last_voiced_at)
        self._silent_since = max(self._silent_since, last_voiced_at)
        return self.tick(now)

    def smart_turn(self, now: float, complete: bool) -> list[Action]:
        self._user.smart_complete = complete
        self._user.endpoint_at = self._endpoint_at(now)
        return self.tick(now)

    def transcript(self, now: float, text: str) -> list[Action]:
        """The transcriber's reading of the whole turn so far, after a VAD stop."""
        last_voiced_at = self._untranscribed.popleft() if self._untranscribed else now
        actions: list[Action] = []
        text = text.strip()
        if (unheard := self._unheard()) is not None and unheard[0].paused:
            waiting, held = unheard
            if _says_more(text, held.text):
                return self._retract(now, waiting, text, last_voiced_at) + self.tick(now)
            if not self._untranscribed:  # no new words: a click or a breath, the reply stands
                waiting.paused = False
                return [ResumeBot(waiting.reply_id), *self.tick(now)]
            return self.tick(now)
        bot = self._bot
        if bot and bot.interruptible:
            if self._interrupts(text, bot):
                actions.append(InterruptBot(bot.reply_id))
                self._bot = None
                self._interrupted_at = now
            else:
                if bot.paused:
                    bot.paused = False
                    actions.append(ResumeBot(bot.reply_id))
                if not self._untranscribed:  # a backchannel or noise: not a turn
                    self._user = _UserTurn()
                    actions.append(CloseUserTurn())
                return actions + self.tick(now)
        if _says_more(text, self._user.text):
            self._user.text = text
            self._user.last_voiced_at = last_voiced_at
            if self._reply is not None:
                actions.append(CancelReply(self._reply))
                self._reply = None
        self._user.endpoint_at = self._endpoint_at(now)
        return actions + self.tick(now)

    def partial_transcript(self, now: float, text: str) -> list[Action]:
        """An interim reading of the turn while the caller still speaks.

        It can only decide a barge-in earlier than the segment's final would: `numWords` reached (as
        Vapi counts them on partials), an interruption phrase, or words that are no acknowledgement
        while the bot is paused. "No interruption yet" decides nothing; the final transcript does.
        Turn text and replies wait for the final transcript.
        """
        if (unheard := self._unheard()) is not None:
            waiting, held = unheard
            if waiting.paused and _says_more(text, held.text):
                return self._retract(now, waiting, held.text, held.last_voiced_at) + self.tick(now)
            return self.tick(now)
        bot = self._bot
        if bot is None or not bot.interruptible or self._speaking_since is None or not self._interrupts(text, bot):
            return self.tick(now)
        self._bot = None
        self._interrupted_at = now
        return [InterruptBot(bot.reply_id), *self.tick(now)]

    def reply_playing(self, now: float, reply_id: int, interruptible: bool) -> list[Action]:
        """A reply (or a spoken prompt) holds the floor; `interruptible` is false for a protected first message.

        The engine calls this when it starts speaking on its own and again when audio starts.
        """
        if self._bot is not None and self._bot.reply_id == reply_id:
            self._bot.interruptible = interruptible
            return self._heard(self._bot) + self.tick(now)
        self._bot = _BotTurn(reply_id, interruptible)
        if interruptible and self._speaking_since is not None and self.config.num_words == 0:
            self._pause_at = self._speaking_since + self.config.voice_seconds
        return self.tick(now)

    def reply_done(self, now: float, reply_id: int) -> list[Action]:
        """The reply's last audio was sent (or it had none): the floor is free again."""
        actions: list[Action] = []
        if self._bot and self._bot.reply_id == reply_id:
            actions = self._heard(self._bot)
            self._bot = None
        self._quiet_since = max(self._quiet_since, now)
        if reply_id not in self._idle_reply_ids:
            self._silent_since = max(self._silent_since, now)
        self._user.endpoint_at = self._endpoint_at(now)
        return actions + self.tick(now)

    def _unheard(self) -> tuple[_BotTurn, _UserTurn] | None:
        """The released reply whose audio has not started, and the user turn it can still give back."""
        bot, held = self._bot, self._held
        return (bot, held) if bot is not None and not bot.audible and held is not None else None

    def _retract(self, now: float, bot: _BotTurn, text: str, last_voiced_at: float) -> list[Action]:
        """The caller went on before the released reply was heard: one turn, answered whole."""
        held = self._held
        assert held is not None  # only called on an `_unheard()` reply
        self._held, self._bot = None, None
        self._user = _UserTurn(text=text, started_at=held.started_at, last_voiced_at=last_voiced_at)
        self._user.endpoint_at = self._endpoint_at(now)
        return [RetractReply(bot.reply_id, held.text)]

    def _heard(self, bot: _BotTurn) -> list[Action]:
        """The released reply is on air (or over): its user turn is final, transcribe afresh."""
        if bot.audible:
            return []
        bot.audible = True
        self._held = None
        return [CloseUserTurn()]

    def pending_user_turn(self) -> tuple[str, float, float] | None:
        """(text, started at, last voiced at) of a caller turn heard but not yet answered."""
        user = self._user
        if not user.text:
            return None
        return user.text, user.started_at if user.started_at is not None else user.last_voiced_at, user.last_voiced_at

    def next_reply_id(self) -> int:
        """An id for a reply the engine starts on its own (first message, tool follow-up)."""
        self._next_id += 1
        return self._next_id

    # --- time -----------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        if self.ended:
            return None
        candidates = [self._pause_at, self._release_at(), self._idle_deadline()]
        candidates.append(self._started_at + self.config.max_duration_seconds)
        return min((c for c in candidates if c is not None), default=None)

    def tick(self, now: float) -> list[Action]:
        if self.ended:
            return []
        actions: list[Action] = []
        if now >= self._started_at + self.config.max_duration_seconds:
            self.ended = True
            return [EndCall("exceeded-max-duration")]
        if self._pause_at is not None and now >= self._pause_at and self._bot and not self._bot.paused:
            self._pause_at = None
            self._bot.paused = True
            actions.append(PauseBot(self._bot.reply_id))
        if self._can_reply() and self._reply is None:
            self._next_id += 1
            self._reply = self._next_id
            self._reply_text = self._user.text
            actions.append(StartReply(self._reply, self._reply_text))
        release_at = self._release_at()
        if release_at is not None and now >= release_at and self._reply is not None:
            user = self._user
            actions.append(
                ReleaseReply(
                    self._reply,
                    self._reply_text,
                    started_at=user.started_at if user.started_at is not None else user.last_voiced_at,
                    last_voiced_at=user.last_voiced_at,
                    endpoint_at=max(user.endpoint_at or now, user.last_voiced_at),
                )
            )
            # The transcription stays open until the reply is heard: if the caller goes on first, the
            # reply is taken back and the turn is read whole (RetractReply).
            self._bot = _BotTurn(self._reply, interruptible=True, audible=False)
            self._reply = None
            self._held, self._user = self._user, _UserTurn()
        actions.extend(self._idle_actions(now))
        return actions

    # --- rules ----------------------------------------------------------------------------

    def _can_reply(self) -> bool:
        return bool(self._user.text) and self._speaking_since is None and not self._untranscribed and self._bot is None

    def _endpoint_at(self, now: float) -> float | None:
        """When the caller's turn counts as finished, per startSpeakingPlan; None = not yet known."""
        user, cfg = self._user, self.config
        if not user.text:
            return None
        if cfg.endpointing == "smart":
            if user.smart_complete is None:
                return None
            return now if user.smart_complete else user.last_voiced_at + cfg.smart_incomplete_cap_seconds
        if cfg.endpointing == "transcription":
            text = user.text
            if _ENDS_WITH_NUMBER.search(text):
                return user.last_voiced_at + cfg.on_number_seconds
            if _ENDS_WITH_PUNCTUATION.search(text):
                return user.last_voiced_at + cfg.on_punctuation_seconds
            return user.last_voiced_at + cfg.on_no_punctuation_seconds
        return now

    def _release_at(self) -> float | None:
        if self._reply is None or not self._can_reply() or self._user.endpoint_at is None:
            return None
        at = max(self._user.endpoint_at, self._user.last_voiced_at + self.config.wait_seconds)
        if self._interrupted_at is not None:
            at = max(at, self._interrupted_at + self.config.backoff_seconds)
        if self._suspected_since is not None:
            # Held until the VAD confirms or drops the voice; bounded, so a buzzing line cannot hold it.
            at = max(at, self._suspected_since + SUSPECTED_VOICE_HOLD_SECONDS)
        return at

    def _interrupts(self, text: str, bot: _BotTurn) -> bool:
        """Does this transcript, heard while the bot talks, take the floor? (stopSpeakingPlan)"""
        said = words(text)
        if not said:
            return False
        cfg = self.config
        if any(w in cfg.interruption_words for w in said):
            return True
        if _is_acknowledgement(said, cfg.acknowledgement_phrases):
            return False
        if cfg.num_words > 0:
            return len(said) >= cfg.num_words
        return bot.paused

    def _idle_deadline(self) -> float | None:
        if self._bot is not None or self._reply is not None or self._speaking_since is not None:
            return None
        if self._user.text or self._untranscribed:
            return None
        silence_at = self._silent_since + self.config.silence_timeout_seconds
        prompt_at = self._idle_prompt_at()
        return silence_at if prompt_at is None else min(prompt_at, silence_at)

    def _idle_prompt_at(self) -> float | None:
        cfg = self.config
        if self._idle_prompts >= len(cfg.idle_prompts):
            return None
        return self._quiet_since + cfg.idle_prompt_seconds

    def _idle_actions(self, now: float) -> list[Action]:
        deadline = self._idle_deadline()
        if deadline is None or now < deadline:
            return []
        prompt_at = self._idle_prompt_at()
        if (
            prompt_at is not None
            and now >= prompt_at
            and now < self._silent_since + self.config.silence_timeout_seconds
        ):
            prompt = self.config.idle_prompts[self._idle_prompts]
            self._idle_prompts += 1
            self._quiet_since = now
            reply_id = self.next_reply_id()
            self._idle_reply_ids.add(reply_id)
            return [SpeakIdlePrompt(reply_id, prompt)]
        self.ended = True
        return [EndCall("silence-timed-out")]


def _says_more(text: str, before: str) -> bool:
    """A later reading of the turn that changes its words: new words, or a number read further
    ("555" -> "555-1234" is one word either way). Punctuation or a shorter re-read changes nothing:
    a cough after the turn must not cancel its reply."""
    said, had = words(text), words(before)
    return said != had and len(said) >= len(had) and len("".join(said)) > len("".join(had))


def _is_acknowledgement(said: list[str], phrases: tuple[str, ...]) -> bool:
    """True when the words are nothing but acknowledgement phrases ("yeah okay", "uh-huh")."""
    joined = " ".join(said)
    for phrase in sorted(phrases, key=len, reverse=True):
        joined = re.sub(rf"\b{re.escape(phrase)}\b", " ", joined)
    return not joined.strip()
