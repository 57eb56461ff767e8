"""Staff pages under /staff: login, chat over internal documents, uploads, drafts, admin (audit CSV,
removing documents, the poster QR code). Every route needs a logged-in account; admin ones an admin."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from ... import messages
from ...drafting import PART_KEYS, DraftError, default_year, part_title, render_text
from ...loaders import SUPPORTED_SUFFIXES
from ...model import STATUTES
from . import security
from .app import State, ask_stream, checked_question, client_address, page
from .qr import qr_png

router = APIRouter(prefix="/staff")
FORM_OVERHEAD_BYTES = 64 * 1024  # multipart headers and the small fields beside the file


def upload_limit(web: State) -> str:
    size = web.settings.max_upload_bytes
    return f"{size // (1024 * 1024)} MB" if size >= 1024 * 1024 else f"{size // 1024} KB"


# ---- login -----------------------------------------------------------------------------------------
@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> HTMLResponse:
    return page(request, "login.html", notice=request.session.pop("notice", None))


@router.post("/login", response_class=HTMLResponse, dependencies=[security.CSRF])
async def login(request: Request, web: State, username: Annotated[str, Form()] = "",
                password: Annotated[str, Form()] = "") -> Response:
    """Wrong passwords count per account (locked for a while after FAZHI_WEB_LOGIN_ATTEMPTS) and per
    address (many names tried from one place)."""
    address = client_address(request)
    if web.logins.blocked(address):
        return _login_refused(request, messages.WEB_LOGIN_LOCKED.format(minutes=1), 429)
    result = await run_in_threadpool(web.accounts.verify, username.strip(), password)
    if result.account is None:
        web.logins.record(address)
        if result.locked_for:
            minutes = max(1, -(-result.locked_for // 60))
            return _login_refused(request, messages.WEB_LOGIN_LOCKED.format(minutes=minutes), 429)
        return _login_refused(request, messages.WEB_LOGIN_FAILED, 401)
    security.start_session(request, result.account)
    return RedirectResponse("/staff", status_code=303)


def _login_refused(request: Request, message: str, status: int) -> HTMLResponse:
    response = page(request, "login.html", error=message)
    response.status_code = status
    return response


@router.post("/logout", dependencies=[security.CSRF])
async def logout(request: Request) -> RedirectResponse:
    request.session.clear()
    request.session["notice"] = messages.WEB_LOGGED_OUT
    return RedirectResponse("/staff/login", status_code=303)


# ---- chat ------------------------------------------------------------------------------------------
@router.get("", response_class=HTMLResponse)
async def staff_page(request: Request, web: State, account: security.Staff) -> HTMLResponse:
    try:
        year = await run_in_threadpool(default_year, web.assistant.index)
        parts = [("all", messages.DRAFT_WHOLE)] + [(key, part_title(key, year)) for key in PART_KEYS]
    except DraftError:
        year, parts = None, []
    return page(request, "staff.html", staff=True, examples=messages.WEB_STAFF_EXAMPLES, draft_year=year,
                draft_parts=parts, upload_hint=messages.WEB_UPLOAD_HINT.format(limit=upload_limit(web)),
                accept=",".join(SUPPORTED_SUFFIXES))


@router.post("/api/ask", response_class=EventSourceResponse, dependencies=[security.CSRF])
async def staff_ask(request: Request, web: State, account: security.Staff,
                    question: Annotated[str, Depends(checked_question)]) -> AsyncIterator[ServerSentEvent]:
    async for event in ask_stream(web, request, question, account.role):
        yield event


@router.get("/source/{chunk_id}", response_class=HTMLResponse)
async def source(request: Request, web: State, account: security.Staff, chunk_id: str) -> HTMLResponse:
    """The cited section in its document (internal ones too: staff only); laws show the one article."""
    chunks = await run_in_threadpool(web.assistant.section, chunk_id, "staff")
    if not chunks:
        raise HTTPException(404)
    chunk = next(c for c in chunks if c.chunk_id == chunk_id)
    return page(request, "source.html", staff=True, document=chunk.title, chunks=chunks, target=chunk_id)


# ---- uploads ---------------------------------------------------------------------------------------
@router.post("/upload")
async def upload(request: Request, web: State, account: security.Staff) -> dict[str, object]:
    """Checked before anything is stored: size (header, then the file), type; a file the loaders then
    refuse is deleted again, so a failed upload leaves the index and the uploads folder as they were."""
    limit = web.settings.max_upload_bytes
    too_large = messages.DOCUMENT_ERRORS["too_large"].format(limit=upload_limit(web))
    if int(request.headers.get("content-length") or 0) > limit + FORM_OVERHEAD_BYTES:
        raise HTTPException(413, too_large)
    await security.require_csrf(request)
    form = await request.form(max_files=1, max_fields=4)
    file, audience = form.get("file"), form.get("audience")
    if not isinstance(file, UploadFile) or not file.filename:
        raise HTTPException(422, messages.WEB_UPLOAD_NO_FILE)
    if audience not in ("public", "staff"):
        raise HTTPException(422, messages.UPLOAD_ASK_AUDIENCE.format(name=file.filename))
    name = Path(file.filename).name
    if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
        raise HTTPException(415, messages.DOCUMENT_ERRORS["unsupported_type"])
    if (file.size or 0) > limit:
        raise HTTPException(413, too_large)
    target = web.settings.uploads_dir / uuid.uuid4().hex[:12] / name
    target.parent.mkdir(parents=True)
    with target.open("wb") as handle:
        await run_in_threadpool(shutil.copyfileobj, file.file, handle)
    report = await run_in_threadpool(web.assistant.ingest_upload, target, audience)
    if report.failed:
        shutil.rmtree(target.parent, ignore_errors=True)
        reason = messages.DOCUMENT_ERRORS.get(report.failed[0][1].reason, messages.DOCUMENT_ERRORS["corrupt"])
        raise HTTPException(422, reason.format(limit=upload_limit(web)))
    docs = report.added + report.updated
    if not docs:
        shutil.rmtree(target.parent, ignore_errors=True)
        return {"message": messages.UPLOAD_UNCHANGED}
    doc = docs[0]
    return {"message": messages.UPLOAD_DONE.format(title=doc.title, chunks=len(doc.chunks), year=doc.year or messages.WEB_YEAR_UNKNOWN,
                                                   audience=messages.AUDIENCE_NAMES[doc.audience])}


# ---- drafts ----------------------------------------------------------------------------------------
@router.post("/draft", dependencies=[security.CSRF])
async def draft(web: State, account: security.Staff, part: Annotated[str, Form()] = "all",
                year: Annotated[int | None, Form()] = None) -> dict[str, object]:
    if part != "all" and part not in PART_KEYS:
        raise HTTPException(422, messages.DRAFT_UNKNOWN_PART.format(part=part, choices="、".join(PART_KEYS)))
    try:
        made = await run_in_threadpool(web.assistant.draft, year, part)
    except DraftError as exc:
        raise HTTPException(422, str(exc)) from exc
    paths = await run_in_threadpool(web.assistant.export_draft, made, web.assistant.draft_path(made, part))
    return {"text": render_text(made),
            "downloads": [{"url": f"/staff/drafts/{p.name}", "label": messages.WEB_DRAFT_DOWNLOAD.format(name=p.name)}
                          for p in paths]}


@router.get("/drafts/{name}")
async def draft_file(web: State, account: security.Staff, name: str) -> FileResponse:
    """Only files of the drafts folder, by plain name."""
    folder = (web.settings.data_dir / "drafts").resolve()
    path = (folder / name).resolve()
    if path.parent != folder or path.suffix != ".docx" or not path.is_file():
        raise HTTPException(404)
    return FileResponse(path, filename=name,
                        media_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document")


# ---- admin -----------------------------------------------------------------------------------------
@router.get("/admin", response_class=HTMLResponse)
async def admin_page(request: Request, web: State, account: security.Admin) -> HTMLResponse:
    documents = [d for d in await run_in_threadpool(web.assistant.sources, "staff") if d.doc_type not in STATUTES]
    notice = request.session.pop("notice", None)
    return page(request, "admin.html", staff=True, documents=documents, notice=notice,
                public_url=_public_url(request, web), has_public_url=bool(web.settings.web_public_url))


@router.post("/admin/export", dependencies=[security.CSRF])
async def export_audit(web: State, account: security.Admin, since: Annotated[str, Form()] = "",
                       until: Annotated[str, Form()] = "") -> FileResponse:
    try:
        bounds = [datetime.fromisoformat(v) if v else None for v in (since, until)]
    except ValueError as exc:
        raise HTTPException(422, messages.WEB_BAD_DATE) from exc
    await run_in_threadpool(web.audit.purge, web.settings.audit_retention_days)
    path = web.settings.data_dir / "exports" / f"audit-{uuid.uuid4().hex[:8]}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    await run_in_threadpool(web.audit.export_csv, path, *bounds)
    return FileResponse(path, filename="问答记录.csv", media_type="text/csv; charset=utf-8")


@router.post("/admin/remove", dependencies=[security.CSRF])
async def remove_document(request: Request, web: State, account: security.Admin,
                          title: Annotated[str, Form()]) -> RedirectResponse:
    removed = await run_in_threadpool(web.assistant.remove, title)
    request.session["notice"] = (messages.DELETE_DONE.format(titles="、".join(removed)) if removed
                                 else messages.DELETE_NOT_FOUND.format(title=title))
    return RedirectResponse("/staff/admin", status_code=303)


@router.get("/admin/qr.png")
async def poster_qr(request: Request, web: State, account: security.Admin) -> Response:
    return Response(qr_png(_public_url(request, web)), media_type="image/png")


def _public_url(request: Request, web: State) -> str:
    return web.settings.web_public_url or str(request.url_for("resident_page"))

