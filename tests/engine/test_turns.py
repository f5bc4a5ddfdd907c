"""Turn-taking on a virtual clock: scripted caller speech, no wall time."""

from __future__ import annotations

from dataclasses import replace

from opencall.engine import turns
from opencall.engine.plans import TurnConfig, turn_config
from opencall.engine.turns import TurnTaker


class Script:
    """Drives a TurnTaker like the engine does: events at given times, timers fired in order."""

    def __init__(self, config: TurnConfig | None = None) -> None:
        self.now = 0.0
        self.turns = TurnTaker(config or TurnConfig(), started_at=0.0)
        self.log: list[tuple[float, turns.Action]] = []

    def advance(self, to: float) -> None:
        while True:
            deadline = self.turns.next_deadline()
            if deadline is None or deadline > to:
                break
            self.now = max(self.now, deadline)
            self._record(self.turns.tick(self.now))
        self.now = to

    def _record(self, actions: list[turns.Action]) -> None:
        self.log.extend((self.now, a) for a in actions)

    def speech(self, start: float, end: float) -> None:
        """The caller voices from `start` to `end`; the VAD reports 0.1 s / 0.2 s later."""
        self.advance(start + 0.1)
        self._record(self.turns.user_started(self.now, start))
        self.advance(end + 0.2)
        self._record(self.turns.user_stopped(self.now, end))

    def started(self, at: float, onset: float) -> None:
        """The VAD confirms speech at `at` that began at `onset` (for starts not paired with a stop)."""
        self.advance(at)
        self._record(self.turns.user_started(self.now, onset))

    def stopped(self, at: float, last_voiced: float) -> None:
        self.advance(at)
        self._record(self.turns.user_stopped(self.now, last_voiced))

    def suspected(self, at: float, active: bool) -> None:
        self.advance(at)
        self._record(self.turns.voice_suspected(self.now, active))

    def partial(self, at: float, text: str) -> None:
        self.advance(at)
        self._record(self.turns.partial_transcript(self.now, text))

    def transcript(self, at: float, text: str) -> None:
        self.advance(at)
        self._record(self.turns.transcript(self.now, text))

    def playing(self, at: float, reply_id: int, interruptible: bool = True) -> None:
        self.advance(at)
        self._record(self.turns.reply_playing(self.now, reply_id, interruptible))

    def done(self, at: float, reply_id: int) -> None:
        self.advance(at)
        self._record(self.turns.reply_done(self.now, reply_id))

    def of(self, kind: type) -> list[tuple[float, turns.Action]]:
        return [(t, a) for t, a in self.log if isinstance(a, kind)]


def test_reply_starts_at_transcript_and_is_released_wait_seconds_after_last_voiced_sample() -> None:
    s = Script()
    s.speech(1.0, 3.0)
    s.transcript(3.35, "I would like to book a cleaning.")
    s.advance(5.0)
    ((start_at, start),) = s.of(turns.StartReply)
    ((release_at, release),) = s.of(turns.ReleaseReply)
    assert start_at == 3.35 and start.text == "I would like to book a cleaning."
    assert release_at == 3.4  # last voiced 3.0 + waitSeconds 0.4
    assert release.reply_id == start.reply_id and release.last_voiced_at == 3.0


def test_slow_transcript_releases_as_soon_as_it_arrives() -> None:
    s = Script()
    s.speech(1.0, 2.0)
    s.transcript(2.9, "Hello there.")
    s.advance(4.0)
    assert [t for t, _ in s.of(turns.ReleaseReply)] == [2.9]


def test_pause_mid_sentence_under_wait_seconds_merges_into_one_turn() -> None:
    s = Script()
    s.speech(1.0, 2.0)
    s.transcript(2.3, "I'd like to book")  # speculative reply starts here
    s.speech(2.25, 3.5)  # the caller goes on; the VAD reports it at 2.35, before 2.0 + 0.4
    s.transcript(3.9, "I'd like to book a cleaning for Tuesday.")
    s.advance(6.0)
    starts = [a for _, a in s.of(turns.StartReply)]
    assert [a.text for a in starts] == ["I'd like to book", "I'd like to book a cleaning for Tuesday."]
    assert [a.reply_id for _, a in s.of(turns.CancelReply)] == [starts[0].reply_id]
    ((release_at, release),) = s.of(turns.ReleaseReply)
    assert release.reply_id == starts[1].reply_id and release.text.endswith("Tuesday.")
    assert release_at == 3.9  # the merged transcript came after 3.5 + 0.4


def test_vad_false_start_while_llm_is_starting_keeps_the_reply() -> None:
    s = Script()
    s.speech(1.0, 2.0)
    s.transcript(2.25, "What are your hours?")  # the model is asked now
    s.speech(2.2, 2.24)  # a cough, reported at 2.3 (before the 2.4 release): Whisper hears no new words
    s.transcript(2.7, "What are your hours?")
    s.advance(4.0)
    assert len(s.of(turns.StartReply)) == 1 and not s.of(turns.CancelReply)
    ((release_at, release),) = s.of(turns.ReleaseReply)
    assert release.text == "What are your hours?" and release.last_voiced_at == 2.0
    assert release_at == 2.7  # held while the noise was being transcribed, then released at once


def test_late_final_transcript_after_caller_resumed_waits_for_the_whole_turn() -> None:
    s = Script()
    s.speech(1.0, 2.0)
    s.advance(2.25)
    s._record(s.turns.user_started(2.25, 2.15))  # resumed before the first transcript came back
    s.transcript(2.5, "My number is")  # late: the caller is talking again
    assert not s.of(turns.StartReply)
    s.advance(3.2)
    s._record(s.turns.user_stopped(3.2, 3.0))
    s.transcript(3.5, "My number is 555-1234.")
    s.advance(5.0)
    assert [a.text for _, a in s.of(turns.StartReply)] == ["My number is 555-1234."]
    assert [t for t, _ in s.of(turns.ReleaseReply)] == [3.5]


def test_backchannel_uh_huh_while_bot_speaks_pauses_then_resumes_without_interrupting() -> None:
    s = Script()
    s.speech(1.0, 2.0)
    s.transcript(2.3, "Tell me about cleanings.")
    s.advance(2.5)
    ((_, release),) = s.of(turns.ReleaseReply)
    s.playing(2.55, release.reply_id)
    s.speech(4.0, 4.4)  # "uh-huh" for 0.4 s: longer than voiceSeconds, so the bot pauses
    ((pause_at, _),) = s.of(turns.PauseBot)
    assert pause_at == 4.2  # onset 4.0 + voiceSeconds 0.2
    s.transcript(4.75, "Uh-huh.")
    assert [a.reply_id for _, a in s.of(turns.ResumeBot)] == [release.reply_id]
    assert not s.of(turns.InterruptBot)
    assert isinstance(s.log[-1][1], turns.CloseUserTurn)  # the backchannel is not a turn
    s.done(8.0, release.reply_id)
    s.advance(12.0)
    assert len(s.of(turns.StartReply)) == 1


def test_real_speech_over_the_bot_interrupts_and_becomes_the_next_turn() -> None:
    s = Script()
    s.speech(1.0, 2.0)
    s.transcript(2.3, "Hi.")
    s.advance(2.5)
    ((_, release),) = s.of(turns.ReleaseReply)
    s.playing(2.5, release.reply_id)
    s.speech(4.0, 5.0)
    s.transcript(5.3, "Can I book for Tuesday instead?")
    ((interrupt_at, interrupt),) = s.of(turns.InterruptBot)
    assert interrupt.reply_id == release.reply_id and interrupt_at == 5.3
    s.advance(8.0)
    (_, second) = s.of(turns.StartReply)[1]
    assert second.text == "Can I book for Tuesday instead?"
    assert s.of(turns.ReleaseReply)[1][0] == 6.3  # backoffSeconds 1.0 after the interruption


def test_interruption_phrase_interrupts_even_below_num_words() -> None:
    s = Script(TurnConfig(num_words=3))
    s.playing(0.5, s.turns.next_reply_id())
    s.speech(1.0, 1.3)
    assert not s.of(turns.PauseBot)  # numWords > 0: VAD alone never stops the bot
    s.transcript(1.7, "Stop.")
    assert len(s.of(turns.InterruptBot)) == 1


def test_num_words_below_threshold_does_not_interrupt() -> None:
    s = Script(TurnConfig(num_words=3))
    s.playing(0.5, s.turns.next_reply_id())
    s.speech(1.0, 1.5)
    s.transcript(1.9, "Tuesday please.")
    assert not s.of(turns.InterruptBot)
    s.speech(2.0, 3.0)
    s.transcript(3.4, "I want Tuesday morning please.")
    assert len(s.of(turns.InterruptBot)) == 1


def test_first_message_is_not_interruptible_by_default_but_its_speech_is_answered_after() -> None:
    s = Script(turn_config({}))
    first = s.turns.next_reply_id()
    s.playing(0.0, first, interruptible=False)
    s.speech(1.0, 2.0)
    s.transcript(2.3, "Hello, I need an appointment.")
    assert not s.of(turns.PauseBot) and not s.of(turns.InterruptBot) and not s.of(turns.StartReply)
    s.done(3.0, first)
    s.advance(4.0)
    assert [t for t, _ in s.of(turns.StartReply)] == [3.0]
    assert [t for t, _ in s.of(turns.ReleaseReply)] == [3.0]


def test_transcription_endpointing_waits_by_how_the_transcript_ends() -> None:
    plan = {"startSpeakingPlan": {"transcriptionEndpointingPlan": {}}}
    for text, expected in (("Book me in.", 2.3), ("book me in", 3.5), ("My number is 555", 2.5)):
        s = Script(turn_config(plan))
        s.speech(1.0, 2.0)
        s.transcript(2.3, text)
        s.advance(6.0)
        # punctuation 0.1, none 1.5, number 0.5 after the last voiced sample; never before waitSeconds
        assert [round(t, 2) for t, _ in s.of(turns.ReleaseReply)] == [max(expected, 2.4)], text


def test_smart_endpointing_incomplete_verdict_is_capped_not_a_three_second_stall() -> None:
    config = turn_config({"startSpeakingPlan": {"smartEndpointingPlan": {"provider": "livekit"}}})
    s = Script(config)
    s.speech(1.0, 2.0)
    s._record(s.turns.smart_turn(2.3, complete=False))  # Smart Turn v3 on "...goodbye."
    s.transcript(2.35, "Thank you, goodbye.")
    s.advance(6.0)
    assert [t for t, _ in s.of(turns.ReleaseReply)] == [2.0 + config.smart_incomplete_cap_seconds]
    s2 = Script(config)
    s2.speech(1.0, 2.0)
    s2.transcript(2.3, "Book me for Tuesday.")
    s2._record(s2.turns.smart_turn(2.32, complete=True))
    s2.advance(6.0)
    assert [t for t, _ in s2.of(turns.ReleaseReply)] == [2.4]


def test_idle_prompt_then_silence_timeout_counted_from_the_last_real_sound() -> None:
    s = Script(replace(TurnConfig(), silence_timeout_seconds=30.0, idle_prompt_seconds=15.0))
    s.advance(15.0)
    ((prompt_at, prompt),) = s.of(turns.SpeakIdlePrompt)
    assert prompt_at == 15.0 and prompt.text == "Are you still there?"
    s.playing(15.1, prompt.reply_id)
    s.done(16.5, prompt.reply_id)
    s.advance(40.0)
    assert [(t, a.reason) for t, a in s.of(turns.EndCall)] == [(30.0, "silence-timed-out")]


def test_speech_resets_the_silence_clock() -> None:
    s = Script(replace(TurnConfig(), silence_timeout_seconds=10.0, idle_prompts=()))
    s.speech(8.0, 9.0)
    s.transcript(9.3, "Hello?")
    s.advance(9.5)
    ((_, release),) = s.of(turns.ReleaseReply)
    s.playing(9.5, release.reply_id)
    s.done(11.0, release.reply_id)
    s.advance(30.0)
    assert [t for t, _ in s.of(turns.EndCall)] == [21.0]


def test_max_duration_ends_the_call() -> None:
    s = Script(replace(TurnConfig(), max_duration_seconds=60.0, silence_timeout_seconds=1000.0, idle_prompts=()))
    s.advance(100.0)
    assert [(t, a.reason) for t, a in s.of(turns.EndCall)] == [(60.0, "exceeded-max-duration")]


def test_vapi_defaults_are_read_from_the_assistant() -> None:
    config = turn_config(
        {
            "startSpeakingPlan": {"waitSeconds": 0.8},
            "stopSpeakingPlan": {
                "numWords": 2,
                "acknowledgementPhrases": ["I'm listening"],
                "interruptionPhrases": ["hang on"],
            },
            "silenceTimeoutSeconds": 12,
            "maxDurationSeconds": 90,
            "firstMessageInterruptionsEnabled": True,
        }
    )
    assert (config.wait_seconds, config.num_words, config.voice_seconds, config.backoff_seconds) == (0.8, 2, 0.2, 1.0)
    assert config.acknowledgement_phrases == ("im listening",) and config.interruption_words == {"hang", "on"}
    assert (config.silence_timeout_seconds, config.max_duration_seconds) == (12.0, 90.0)
    assert config.first_message_interruptions and config.endpointing == "transcriber"


def test_unconfirmed_voice_at_the_release_holds_it_until_the_vad_decides() -> None:
    s = Script()
    s.speech(1.0, 2.0)
    s.transcript(2.3, "Hello,")
    s.suspected(2.35, True)  # the caller resumed at ~2.33; VAD confirms at 2.43
    s.advance(2.43)
    assert not s.of(turns.ReleaseReply)  # 2.0 + waitSeconds passed, but nobody talks over a resuming caller
    s.started(2.43, 2.33)
    s.stopped(3.5 + 0.2, 3.5)
    s.transcript(3.9, "Hello, thanks for calling Acme Dental.")
    s.advance(5.0)
    assert [r.text for _, r in s.of(turns.ReleaseReply)] == ["Hello, thanks for calling Acme Dental."]


def test_unconfirmed_voice_that_the_vad_drops_releases_at_once_and_never_holds_long() -> None:
    s = Script()
    s.speech(1.0, 2.0)
    s.transcript(2.3, "Hello.")
    s.suspected(2.38, True)  # a click
    s.suspected(2.42, False)
    assert [t for t, _ in s.of(turns.ReleaseReply)] == [2.42]

    s = Script()
    s.speech(1.0, 2.0)
    s.transcript(2.3, "Hello.")
    s.suspected(2.38, True)  # never decided (a buzzing line)
    s.advance(3.0)
    assert [round(t, 2) for t, _ in s.of(turns.ReleaseReply)] == [2.53]  # held at most 0.15 s


def test_partial_transcript_reaching_num_words_interrupts_before_the_segment_ends() -> None:
    s = Script(TurnConfig(num_words=3))
    reply_id = s.turns.next_reply_id()
    s.playing(0.5, reply_id)
    s.started(1.1, 1.0)
    s.partial(1.6, "Okay")  # an acknowledgement: no decision yet
    s.partial(2.2, "Okay, but can I")
    ((at, interrupt),) = s.of(turns.InterruptBot)
    assert at == 2.2 and interrupt.reply_id == reply_id


def test_partial_transcript_of_an_acknowledgement_never_interrupts() -> None:
    s = Script(TurnConfig(num_words=1))
    s.playing(0.5, s.turns.next_reply_id())
    s.started(1.1, 1.0)
    s.partial(1.6, "uh-huh")
    assert not s.of(turns.InterruptBot)


def test_caller_going_on_after_the_release_but_before_any_audio_takes_the_reply_back() -> None:
    s = Script()
    s.speech(1.0, 2.0)
    s.transcript(2.3, "Hello,")
    s.advance(2.45)
    ((_, first),) = s.of(turns.ReleaseReply)  # at 2.4; its audio is not out yet
    assert not s.of(turns.CloseUserTurn)  # the transcription stays open until the reply is heard
    s.speech(2.5, 3.5)  # "...thanks for calling": VAD confirms at 2.6
    assert [(t, a.reply_id) for t, a in s.of(turns.PauseBot)] == [(2.6, first.reply_id)]  # held silent
    assert not s.of(turns.RetractReply)
    s.transcript(3.9, "Hello, thanks for calling Acme Dental.")  # the whole turn, one stream
    ((_, retract),) = s.of(turns.RetractReply)
    assert retract.reply_id == first.reply_id and retract.text == "Hello,"
    assert not s.of(turns.InterruptBot) and not s.of(turns.ResumeBot)
    s.advance(4.0)
    (_, second) = s.of(turns.ReleaseReply)[1]
    assert second.text == "Hello, thanks for calling Acme Dental." and second.started_at == 1.0
    assert second.last_voiced_at == 3.5
    s.playing(4.3, second.reply_id)
    assert len(s.of(turns.CloseUserTurn)) == 1  # heard: the next speech is a new turn


def test_caller_speaking_once_the_reply_is_heard_is_a_barge_in_not_a_retraction() -> None:
    s = Script()
    s.speech(1.0, 2.0)
    s.transcript(2.3, "Hi.")
    s.advance(2.45)
    ((_, release),) = s.of(turns.ReleaseReply)
    s.playing(2.7, release.reply_id)
    s.speech(3.0, 4.0)
    assert not s.of(turns.RetractReply)
    assert [a.reply_id for _, a in s.of(turns.PauseBot)] == [release.reply_id]


def test_a_number_read_further_after_a_pause_updates_the_turn() -> None:
    s = Script()
    s.speech(1.0, 2.4)
    s.speech(2.8, 3.7)  # "...is five five five, | one two three four?"
    s.transcript(3.0, "Can you confirm my phone number is 555?")  # the first segment's final, late
    s.transcript(4.1, "Can you confirm my phone number is 555-1234?")  # same word count
    s.advance(5.0)
    ((_, release),) = s.of(turns.ReleaseReply)
    assert release.text == "Can you confirm my phone number is 555-1234?"


def test_a_re_read_that_only_changes_punctuation_keeps_the_reply() -> None:
    s = Script()
    s.speech(1.0, 2.0)
    s.transcript(2.3, "Thank you, goodbye.")
    s.speech(2.32, 2.36)  # a click the VAD took for speech
    s.transcript(2.7, "Thank you. Goodbye!")
    s.advance(3.5)
    assert not s.of(turns.CancelReply) and not s.of(turns.RetractReply)
    assert [r.text for _, r in s.of(turns.ReleaseReply)] == ["Thank you, goodbye."]
    assert [t for t, _ in s.of(turns.PauseBot)] == [2.42] and [t for t, _ in s.of(turns.ResumeBot)] == [2.7]


def test_partial_transcript_with_new_words_takes_back_an_unheard_reply_early() -> None:
    s = Script()
    s.speech(1.0, 2.0)
    s.transcript(2.3, "Hello,")
    s.advance(2.45)
    s.started(2.6, 2.5)
    s.partial(3.6, "Hello, thanks for calling")
    ((at, retract),) = s.of(turns.RetractReply)
    assert at == 3.6 and retract.text == "Hello,"
    assert not s.of(turns.InterruptBot)
