"""`/file`: Vapi's FileController. Uploads are multipart and stored on disk under the data dir."""

from __future__ import annotations

import mimetypes
import shutil
import uuid
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Query, UploadFile
from fastapi.responses import FileResponse, JSONResponse

from opencall.api.deps import Context
from opencall.api.responses import many, one
from opencall.errors import BadRequest
from opencall.schemas.file import File, UpdateFileDTO
from opencall.store import tables
from opencall.store.resources import ListFilters, Repository

router = APIRouter(prefix="/file", tags=["Files"])

MAX_UPLOAD_BYTES = 100 * 1024 * 1024
"""Largest accepted upload; Vapi documents knowledge-base files of up to 100 MB."""


def files(c: Context) -> Repository[tables.File]:
    return Repository(c.session, tables.File, c.org_id, "File")


def safe_name(name: str) -> str:
    cleaned = "".join(ch for ch in Path(name).name if ch.isalnum() or ch in "._- ").strip(" .")
    return cleaned[:200] or "upload"


@router.post("", status_code=201, operation_id="FileController_create", response_model=File)
async def create_file(
    c: Context, file: UploadFile, purpose: Annotated[str | None, Form(max_length=64)] = None
) -> JSONResponse:
    file_id = str(uuid.uuid4())
    original = file.filename or "upload"
    relative = Path("files") / c.org_id / file_id / safe_name(original)
    target = c.settings.data_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        shutil.copyfileobj(file.file, out, length=1024 * 1024)
    size = target.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        shutil.rmtree(target.parent, ignore_errors=True)
        raise BadRequest([f"file must be at most {MAX_UPLOAD_BYTES} bytes"])
    mimetype = file.content_type or mimetypes.guess_type(original)[0] or "application/octet-stream"
    data = {
        "object": "file",
        "status": "done",
        "name": original[:40],
        "originalName": original,
        "bytes": size,
        "mimetype": mimetype,
        "path": str(relative),
        "url": f"{c.settings.base_url}/file/{file_id}/content",
        **({"purpose": purpose} if purpose else {}),
    }
    row = await files(c).create(data, id=file_id, purpose=purpose, path=str(relative))
    await c.session.commit()
    return one(row, 201)


@router.get("", operation_id="FileController_findAll", response_model=list[File])
async def list_files(c: Context, purpose: Annotated[str | None, Query()] = None) -> JSONResponse:
    repo = files(c)
    query = repo.query()
    if purpose:
        query = query.where(tables.File.purpose == purpose)
    return many(await repo.list(ListFilters(limit=1000), query))


@router.get("/{id}", operation_id="FileController_findOne", response_model=File)
async def get_file(id: str, c: Context) -> JSONResponse:
    return one(await files(c).get(id))


@router.get("/{id}/content", operation_id="FileController_content", response_class=FileResponse)
async def get_file_content(id: str, c: Context) -> FileResponse:
    """The uploaded bytes (OpenCall extension; Vapi serves them from its bucket)."""
    row = await files(c).get(id)
    return FileResponse(c.settings.data_dir / row.path, media_type=row.data.get("mimetype"))


@router.patch("/{id}", operation_id="FileController_update", response_model=File)
async def update_file(id: str, body: UpdateFileDTO, c: Context) -> JSONResponse:
    repo = files(c)
    row = await repo.update(await repo.get(id), body.to_wire())
    await c.session.commit()
    return one(row)


@router.delete("/{id}", operation_id="FileController_remove", response_model=File)
async def delete_file(id: str, c: Context) -> JSONResponse:
    repo = files(c)
    row = await repo.get(id)
    await repo.delete(row)
    await c.session.commit()
    shutil.rmtree((c.settings.data_dir / row.path).parent, ignore_errors=True)
    return one(row)
