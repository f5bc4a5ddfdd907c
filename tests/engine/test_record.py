"""The conversation record (Vapi messages, transcript, metrics) and the heard-words alignment."""

from __future__ import annotations

from opencall.engine.record import CallRecord, TurnLatency
from opencall.engine.speak import _Clause, heard_text


def test_heard_text_keeps_whole_clauses_sent_and_the_whole_words_of_the_one_cut() -> None:
    clauses = [_Clause("Thank you for calling,", 10.0, 11.0), _Clause("we are open nine to five.", 11.0, 13.0)]
    assert heard_text(clauses, 9.0) == ""
    assert heard_text(clauses, 11.0) == "Thank you for calling,"
    # 1 s of the 2 s clause: half its 25 characters -> "we are open" (12 chars incl. spaces), not "nine"
    assert heard_text(clauses, 12.0) == "Thank you for calling, we are open"
    assert heard_text(clauses, 20.0) == "Thank you for calling, we are open nine to five."


def test_record_keeps_vapi_messages_openai_history_and_transcript() -> None:
    record = CallRecord(started_wall=1_700_000_000.0, started_mono=100.0)
    record.add_system("Be brief.")
    record.add_bot("Hello!", 100.5, 101.5, source="first-message")
    record.add_user("What are your hours?", 102.0, 103.25)
    record.add_tool_calls(
        [{"id": "t1", "type": "function", "function": {"name": "hours", "arguments": {"d": 1}}}], 103.5
    )
    record.add_tool_result("t1", "hours", "9 to 5", 103.7)
    record.add_bot("Nine to five.", 104.0, 105.0)
    user = record.messages[2]
    assert user == {
        "role": "user",
        "message": "What are your hours?",
        "time": 1_700_000_002_000,
        "secondsFromStart": 2.0,
        "endTime": 1_700_000_003_250,
        "duration": 1250,
    }
    assert [m["role"] for m in record.messages] == ["system", "bot", "user", "tool_calls", "tool_call_result", "bot"]
    assert record.transcript() == "AI: Hello!\nUser: What are your hours?\nAI: Nine to five."
    history = record.model_messages("And Saturday?")
    assert [m["role"] for m in history] == ["system", "assistant", "user", "assistant", "tool", "assistant", "user"]
    assert history[3]["tool_calls"][0]["function"] == {"name": "hours", "arguments": '{"d": 1}'}
    assert history[4] == {"role": "tool", "tool_call_id": "t1", "content": "9 to 5"}


def test_performance_metrics_average_the_turns() -> None:
    record = CallRecord()
    record.turn_latencies += [TurnLatency(100, 200, 150, 200, 700), TurnLatency(300, 400, 250, 200, 1100)]
    record.to_transport_ms += [1.0, 3.0]
    metrics = record.artifact()["performanceMetrics"]
    assert metrics["turnLatencyAverage"] == 900 and metrics["modelLatencyAverage"] == 200
    assert metrics["toTransportLatencyAverage"] == 2.0 and metrics["fromTransportLatencyAverage"] is None
    assert metrics["turnLatencies"][0] == {
        "modelLatency": 100,
        "voiceLatency": 200,
        "transcriberLatency": 150,
        "endpointingLatency": 200,
        "turnLatency": 700,
    }
