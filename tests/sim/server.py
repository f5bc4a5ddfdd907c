"""Run a simulator on loopback: inside the test's event loop, or as a process (`python -m tests.sim.X`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn


def bound_socket(port: int = 0, host: str = "127.0.0.1") -> socket.socket:
    """A listening-ready socket; port 0 picks a free one, with no window for another process to take it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


@contextlib.asynccontextmanager
async def serve_asgi(app: Any, port: int = 0) -> AsyncIterator[str]:
    """Serve `app` with uvicorn on a task of the running loop; yields `http://127.0.0.1:<port>`."""
    sock = bound_socket(port)
    config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="none")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # startup failed: raise its error here
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


def port_argument(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = any free one)")
    parser.add_argument("--api-key", default=None, help="require this key (default: accept any)")
    return parser
