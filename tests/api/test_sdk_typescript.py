"""The official TypeScript SDK (`@vapi-ai/server-sdk`, npm) runs its conformance script against OpenCall.

The assertions live in `tests/sdk_ts/conformance.mjs` (`node:assert/strict`); this test only serves it a
server and a fresh org's key, and shows the script's output when it fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import RunningServer

SDK_DIR = Path(__file__).resolve().parents[1] / "sdk_ts"


@pytest.fixture(scope="session")
def node_sdk() -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "node and npm are needed for the TypeScript SDK test (`make test` installs them)"
    if not (SDK_DIR / "node_modules" / "@vapi-ai" / "server-sdk").is_dir():
        subprocess.run([npm, "install", "--no-audit", "--no-fund", "--silent"], cwd=SDK_DIR, check=True, timeout=300)
    return Path(node)


def test_typescript_sdk_does_assistant_crud_and_calls(server: RunningServer, node_sdk: Path) -> None:
    org = server.new_org()
    env = {**os.environ, "OPENCALL_BASE_URL": server.base_url, "OPENCALL_KEY": org.private_key}

    run = subprocess.run(
        [str(node_sdk), "conformance.mjs"], cwd=SDK_DIR, env=env, capture_output=True, text=True, timeout=120
    )

    assert run.returncode == 0, f"conformance.mjs failed:\n{run.stdout}\n{run.stderr}"
    assert "ok - a bad key is Vapi's 401" in run.stdout
