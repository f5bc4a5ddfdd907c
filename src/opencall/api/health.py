"""`/health`: liveness and database reachability, without authentication (for load balancers)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from opencall.api.deps import Session

router = APIRouter(tags=["Health"])


class Health(BaseModel):
    status: str
    database: str


@router.get("/health", operation_id="HealthController_check", response_model=Health)
async def health(session: Session) -> Health:
    await session.execute(text("select 1"))
    return Health(status="ok", database="ok")
