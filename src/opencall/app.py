"""The HTTP application. `create_app(settings)` builds it; nothing happens at import time."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import TypeAdapter

from opencall import __version__
from opencall.api import (
    assistants,
    calls,
    credentials,
    errors,
    files,
    health,
    live,
    openai_compat,
    phone_numbers,
    recordings,
    squads,
    tools,
    twilio,
)
from opencall.api.deps import private_key
from opencall.providers.llm.openai_compat import aclose_shared_client
from opencall.providers.preload import preload_embedded_models
from opencall.settings import Settings
from opencall.store.call_logs import call_log_handler
from opencall.store.db import create_engine_for, run_migrations, session_factory
from opencall.store.keys import bootstrap
from opencall.webhooks.hub import WebhookHub

log = logging.getLogger("opencall")

DESCRIPTION = """Self-hosted, Vapi-compatible voice-AI call platform.

Every route takes `Authorization: Bearer <private key>`. Paths, operation ids, bodies and status codes
follow Vapi's API; OpenCall's launch-contract extensions (`POST /assistant` with `model`/`voice` as
plain strings and `prompt`; `POST /call` with `to`, `from`, `webhookUrl`, `record`, `recordingUrl`,
`metadata`) are documented on the request schemas.
"""


async def bootstrap_keys(app: FastAPI) -> None:
    settings: Settings = app.state.settings
    async with app.state.sessions() as session:
        issued = await bootstrap(session, settings.api_key)
        await session.commit()
    if issued:
        private, public = issued
        shown = "(from OPENCALL_API_KEY)" if settings.api_key else private.key
        # Printed once: the key is stored hashed and cannot be shown again.
        # Flushed: under systemd or docker stdout is a pipe, and a buffered key would surface only at exit.
        print(
            f"OpenCall: created org {private.org_id}\n  private key: {shown}\n  public key:  {public.key}",
            flush=True,
        )


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    # In the background: loading takes seconds, and the port must answer (/health) meanwhile.
    app.state.preload = asyncio.create_task(preload_embedded_models(settings)) if settings.preload_models else None
    if settings.auto_migrate:
        await asyncio.to_thread(run_migrations, settings)
    await bootstrap_keys(app)
    # Per-call log files; added in lifespan, not create_app, so handlers never pile up on the shared logger.
    log_handler = call_log_handler(settings)
    logging.getLogger("opencall").addHandler(log_handler)
    app.state.webhooks = WebhookHub(app.state.sessions, settings)
    await app.state.webhooks.start()
    try:
        yield
    finally:
        if app.state.preload is not None:
            app.state.preload.cancel()  # a model still loading finishes on its thread; nothing waits for it
        await app.state.webhooks.stop()
        await aclose_shared_client()
        await app.state.db_engine.dispose()
        logging.getLogger("opencall").removeHandler(log_handler)
        log_handler.close()


ERROR_BODY = {
    "type": "object",
    "description": "NestJS error envelope, as Vapi answers errors.",
    "required": ["message", "error", "statusCode"],
    "properties": {
        "message": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "error": {"type": "string"},
        "statusCode": {"type": "integer"},
    },
}
ERROR_RESPONSES = {
    "400": "Bad Request: one message per invalid field, named from the body root",
    "401": "Invalid Key: missing, unknown or revoked key, or a public key on a private route",
    "404": "Not Found: no such object in the key's org",
}


def declare_errors(schema: dict[str, Any]) -> None:
    """Declare the errors we really send (NestJS bodies: 400/401/404) in place of FastAPI's 422."""
    components = schema["components"]["schemas"]
    components["ErrorBody"] = ERROR_BODY
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            responses = operation["responses"]
            responses.pop("422", None)
            if "security" not in operation:
                operation["security"] = []  # /health: open to load balancers
                continue
            codes = ("400", "401", "404") if "{" in path else ("400", "401")
            for code in codes:
                responses.setdefault(code, {"description": ERROR_RESPONSES[code], **ref})


_spec_cache: dict[tuple[Any, ...], dict[str, Any]] = {}
_spec_lock = threading.Lock()


def routes_key(app: FastAPI) -> tuple[Any, ...]:
    """What the spec is built from: the included routers (module-level objects) and the app's own routes."""
    key: list[Any] = []
    for route in app.routes:
        router = getattr(route, "original_router", None)
        if router is not None:
            key.append((id(router), len(router.routes)))
        elif getattr(route, "include_in_schema", False):
            key.append((getattr(route, "path", ""), tuple(sorted(getattr(route, "methods", None) or ()))))
    return tuple(key)


def build_openapi(app: FastAPI) -> dict[str, Any]:
    from opencall.schemas.phone_number import UpdatePhoneNumberDTO
    from opencall.schemas.tools import UpdateToolDTO

    schema = get_openapi(
        title="OpenCall API",
        version=__version__,
        description=DESCRIPTION,
        routes=app.routes,
        # One schema per model: split "-Input"/"-Output" copies share a title, and generated clients
        # (openapi-python-client) then refuse the duplicate class names and drop Assistant, Call, Squad.
        separate_input_output_schemas=False,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, model in (("UpdateToolDTO", UpdateToolDTO), ("UpdatePhoneNumberDTO", UpdatePhoneNumberDTO)):
        body = TypeAdapter(model).json_schema(ref_template="#/components/schemas/{model}", by_alias=True)
        components.update(body.pop("$defs", {}))
        components[name] = body
    schema["security"] = [{"bearer": []}]
    declare_errors(schema)
    return schema


def custom_openapi(app: FastAPI) -> dict[str, Any]:
    """Our spec. FastAPI takes seconds to walk the Vapi models (thousands of TypeAdapters), so the result
    is shared by every app in the process with the same routes; only `servers` is per app."""
    if app.openapi_schema:
        return app.openapi_schema
    key = routes_key(app)
    with _spec_lock:
        if key not in _spec_cache:
            _spec_cache[key] = build_openapi(app)
    app.openapi_schema = {**_spec_cache[key], "servers": [{"url": app.state.settings.base_url}]}
    return app.openapi_schema


def install_docs(app: FastAPI) -> None:
    """`/openapi.json` and `/docs`, with the spec built off the event loop: the first build blocks for
    seconds, and live calls in this process must keep streaming meanwhile."""

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi_json() -> JSONResponse:
        return JSONResponse(await asyncio.to_thread(app.openapi))

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="OpenCall API")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    logging.basicConfig(level=settings.log_level)
    app = FastAPI(
        title="OpenCall API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url=None,  # install_docs serves /openapi.json and /docs
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db_engine = create_engine_for(settings)
    app.state.sessions = session_factory(app.state.db_engine)
    errors.install(app)
    for module in (health, assistants, calls, phone_numbers, tools, squads, files, credentials, live, recordings,
                   twilio):
        app.include_router(module.router)
    # The embedded model, OpenAI-compatibly, for `custom-llm` assistants and other tools; private key only.
    app.include_router(openai_compat.router, dependencies=[Depends(private_key)])
    app.openapi = lambda: custom_openapi(app)  # type: ignore[method-assign]
    install_docs(app)
    return app
