"""`opencall serve | migrate | keys create|list|revoke`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from opencall.settings import Settings

T = TypeVar("T")


def with_session(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    from opencall.store.db import create_engine_for, session_factory

    async def run() -> T:
        engine = create_engine_for(settings)
        try:
            async with session_factory(engine)() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    return asyncio.run(run())


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from opencall.app import create_app

    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
    return 0


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from opencall.store.db import run_migrations

    run_migrations(settings)
    print("database is at the newest schema")
    return 0


def cmd_keys(settings: Settings, args: argparse.Namespace) -> int:
    from opencall.store import keys
    from opencall.store.db import run_migrations

    run_migrations(settings)

    async def create(session: Any) -> int:
        org_id = args.org or await keys.first_org_id(session) or (await keys.create_org(session)).id
        issued = await keys.issue_key(session, org_id, args.kind, name=args.name)
        print(f"{issued.kind} key for org {org_id} (shown once): {issued.key}")
        return 0

    async def listing(session: Any) -> int:
        for row in await keys.list_keys(session, args.org):
            state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
            print(f"{row.id}  {row.prefix}…  {row.kind:7}  org {row.org_id}  {state}  {row.name or ''}")
        return 0

    async def revoke(session: Any) -> int:
        row = await keys.revoke_key(session, args.key)
        if row is None:
            print(f"no key with id or prefix {args.key}", file=sys.stderr)
            return 1
        print(f"revoked {row.id} ({row.prefix}…)")
        return 0

    action = {"create": create, "list": listing, "revoke": revoke}[args.action]
    return with_session(settings, action)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="opencall", description="Self-hosted Vapi-compatible voice AI")
    sub = top.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP server (OPENCALL_HOST, OPENCALL_PORT)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    sub.add_parser("migrate", help="apply database migrations")
    key_cmd = sub.add_parser("keys", help="manage API keys")
    key_sub = key_cmd.add_subparsers(dest="action", required=True)
    create = key_sub.add_parser("create", help="issue a key (printed once)")
    create.add_argument("--org", help="org id (default: the first org)")
    create.add_argument("--kind", choices=["private", "public"], default="private")
    create.add_argument("--name")
    listing = key_sub.add_parser("list", help="list keys (prefixes only)")
    listing.add_argument("--org")
    revoke = key_sub.add_parser("revoke", help="revoke a key by id or prefix")
    revoke.add_argument("key")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    overrides = {k: v for k in ("host", "port") if (v := getattr(args, k, None)) is not None}
    settings = Settings(**overrides)
    commands = {"serve": cmd_serve, "migrate": cmd_migrate, "keys": cmd_keys}
    return commands[args.command](settings, args)


if __name__ == "__main__":
    sys.exit(main())
