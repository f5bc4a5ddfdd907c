"""A client generated from our own `/openapi.json` (openapi-python-client) builds cleanly and works.

Generation runs with `--fail-on-warning`: a schema the generator cannot turn into a class (a duplicate
title, an unresolvable `$ref`) is a bug in our spec, and it fails here before it fails a user.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from tests.conftest import OrgKeys, RunningServer

GENERATOR = Path(sys.executable).with_name("openapi-python-client")


def generate(spec: dict[str, object], workdir: Path) -> str:
    """Generate a client package for `spec` in `workdir`; returns its import name."""
    (workdir / "openapi.json").write_text(json.dumps(spec))
    # No post-hooks: formatting the generated code (ruff) is not what is under test.
    (workdir / "config.json").write_text(json.dumps({"post_hooks": []}))
    package = f"opencall_client_{uuid.uuid4().hex[:8]}"
    run = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            "openapi.json",
            "--output-path",
            package,
            "--meta",
            "none",
            "--config",
            "config.json",
            "--fail-on-warning",
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, f"openapi-python-client rejected our spec:\n{run.stdout[-6000:]}\n{run.stderr[-3000:]}"
    return package


@pytest.fixture(scope="module")
def org(server: RunningServer) -> OrgKeys:
    return server.new_org()


@dataclass
class GeneratedPackages:
    """Generated clients by spec text; the spec does not depend on the database, so both servers share one."""

    workdir: Path
    by_spec: dict[str, ModuleType] = field(default_factory=dict)


@pytest.fixture(scope="session")
def generated_packages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GeneratedPackages]:
    packages = GeneratedPackages(tmp_path_factory.mktemp("generated"))
    sys.path.insert(0, str(packages.workdir))
    try:
        yield packages
    finally:
        sys.path.remove(str(packages.workdir))
        for package in packages.by_spec.values():
            for name in [n for n in sys.modules if n == package.__name__ or n.startswith(package.__name__ + ".")]:
                del sys.modules[name]


@pytest.fixture
def generated(server: RunningServer, generated_packages: GeneratedPackages) -> ModuleType:
    spec = httpx.get(f"{server.base_url}/openapi.json", timeout=30).raise_for_status().json()
    spec.pop("servers", None)
    key = json.dumps(spec, sort_keys=True)
    if key not in generated_packages.by_spec:
        package = generate(spec, generated_packages.workdir)
        generated_packages.by_spec[key] = importlib.import_module(package)
    return generated_packages.by_spec[key]


def test_generated_client_creates_an_assistant_and_reads_it_back(
    generated: ModuleType, server: RunningServer, org: OrgKeys
) -> None:
    package = generated.__name__
    create = importlib.import_module(f"{package}.api.assistants.assistant_controller_create")
    find_one = importlib.import_module(f"{package}.api.assistants.assistant_controller_find_one")
    models = importlib.import_module(f"{package}.models")
    client = generated.AuthenticatedClient(base_url=server.base_url, token=org.private_key)

    body = models.CreateAssistantRequest.from_dict(
        {
            "name": "Generated",
            "firstMessage": "Hello from a generated client",
            "model": {"provider": "openai", "model": "gpt-4o", "messages": [{"role": "system", "content": "Hi"}]},
            "voice": {"provider": "11labs", "voiceId": "burt"},
        }
    )
    created = create.sync(client=client, body=body)

    assert isinstance(created, models.Assistant), created
    assert created.name == "Generated"
    assert created.first_message == "Hello from a generated client"
    assert isinstance(created.model, models.OpenAIModel)
    assert created.model.model == "gpt-4o"
    assert isinstance(created.voice, models.ElevenLabsVoice)
    assert created.voice.voice_id == "burt"

    fetched = find_one.sync(id=created.id, client=client)
    assert isinstance(fetched, models.Assistant)
    assert fetched.id == created.id
    assert fetched.org_id == org.org_id


def test_generated_client_accepts_the_launch_contract_string_forms(
    generated: ModuleType, server: RunningServer, org: OrgKeys
) -> None:
    package = generated.__name__
    create = importlib.import_module(f"{package}.api.assistants.assistant_controller_create")
    models = importlib.import_module(f"{package}.models")
    client = generated.AuthenticatedClient(base_url=server.base_url, token=org.private_key)

    body = models.CreateAssistantRequest(name="Short", model="gpt-4o", voice="alloy", prompt="Be brief.")
    created = create.sync(client=client, body=body)

    assert isinstance(created, models.Assistant), created
    assert isinstance(created.model, models.OpenAIModel)
    assert created.model.messages[0].content == "Be brief."
