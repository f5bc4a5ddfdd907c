"""schemathesis fuzzes every operation of our own `/openapi.json`: no input gives a 5xx, and every answer
(success or error) matches the schema we publish, status code included.

schemathesis' pytest integration (`from_fixture(...).parametrize()`) does not run under pytest 9, so the
operations are driven here with plain Hypothesis: valid and invalid inputs for each, every failure
collected, then reported together with schemathesis' reproduction (a curl command) for each.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from opencall.api.openai_compat import embedded_model
from opencall.providers.base import ChatDone, ChatEvent, ChatRequest, TextDelta
from tests.conftest import RunningServer

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
EXAMPLES_PER_OPERATION = 20
"""Valid and invalid inputs together; ~35 operations x 20 is about a minute on 2 cores."""

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    database=None,
    derandomize=True,  # the same cases every run: CI failures reproduce locally
    phases=[Phase.explicit, Phase.generate],  # no shrinking: the first failure is reported as found
    suppress_health_check=list(HealthCheck),
)


class ScriptedModel:
    """Stands in for the embedded LLM behind `/v1/chat/completions`: the fuzz is about the HTTP contract, and
    twenty real generations per run would be most of its time (the model has its own tests)."""

    provider = "scripted"

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        yield TextDelta("Hello.")
        yield ChatDone(finish_reason="stop", prompt_tokens=3, completion_tokens=2)


@pytest.fixture
def scripted_llm(server: RunningServer) -> Iterator[None]:
    app = server.server.config.app
    app.dependency_overrides[embedded_model] = ScriptedModel
    try:
        yield
    finally:
        app.dependency_overrides.pop(embedded_model, None)


@pytest.fixture
def api_schema(server: RunningServer) -> schemathesis.BaseSchema:
    # The first build of the spec in a process takes seconds (FastAPI walks every Vapi model).
    return schemathesis.openapi.from_url(f"{server.base_url}/openapi.json", timeout=120)


def fuzz(operation: schemathesis.APIOperation, session: requests.Session) -> str | None:
    """The first failing case of `operation` as a report, or None."""
    strategy = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @FUZZ_SETTINGS
    @given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(session=session, checks=CHECKS, timeout=30)

    try:
        run()
    except (Exception, BaseExceptionGroup) as failure:  # every kind of failure is reported, per operation
        return f"{operation.label}:\n{failure}"
    return None


# The fuzz exercises the HTTP and schema layer, the same on both databases, and costs about a minute per
# run; so it runs on SQLite only. The storage-specific edge cases it could reach (NUL in text, numbers beyond
# BIGINT) are pinned on both databases in test_api_errors.py.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_operation_answers_without_5xx_and_as_documented(
    server: RunningServer, api_schema: schemathesis.BaseSchema, scripted_llm: None
) -> None:
    session = requests.Session()
    # Fuzzing fills its org with junk; an org of its own keeps other tests' lists exact.
    session.headers["Authorization"] = f"Bearer {server.new_org().private_key}"
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 30, [op.label for op in operations]

    failures = [report for op in operations if (report := fuzz(op, session)) is not None]

    assert not failures, "\n\n".join(failures)
