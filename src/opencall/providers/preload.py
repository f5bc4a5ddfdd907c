"""`OPENCALL_PRELOAD_MODELS`: the embedded models loaded when the server starts, not on the first call.

Each model loads on the worker thread it always runs on (Whisper's and Piper's executors, the llama
thread), never on the event loop, so the server answers requests while they load. They go into the
same process-wide caches a call reads, with the same settings, so the first call finds them there.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable

from opencall.settings import Settings

log = logging.getLogger(__name__)


async def preload_embedded_models(settings: Settings) -> None:
    """Load Whisper, Piper and SmolLM2 and run each once; a model that fails is logged, calls load it later."""
    from opencall.providers.llm import local_llama
    from opencall.providers.stt import local_whisper
    from opencall.providers.tts import piper

    started = time.monotonic()
    jobs: dict[str, Awaitable[None]] = {
        # warm_up loads the model and decodes / renders once: the first run pays the runtime's own setup.
        "Whisper": local_whisper.create({}, settings).warm_up(),
        "Piper": piper.create({}, settings).warm_up(),
        "SmolLM2": local_llama.load(settings),
    }
    results = await asyncio.gather(*jobs.values(), return_exceptions=True)
    loaded = []
    for name, result in zip(jobs, results, strict=True):
        if isinstance(result, Exception):
            log.warning("preloading %s failed (a call will try again): %r", name, result)
        else:
            loaded.append(name)
    log.info("preloaded %s in %.1f s", ", ".join(loaded) or "no model", time.monotonic() - started)
