"""Web chat channel (FastAPI + Jinja2 + server-sent events): residents at `/`, staff at `/staff`.

Only channel concerns live here, as in the Telegram channel: who is asking (a signed session cookie;
staff log in), limits, and showing the answer. Questions, uploads and drafts go through `Assistant`,
whose CPU-bound calls run in worker threads (the Assistant's index and stores take their own locks, as
the Telegram channel relies on too), and every exchange goes into the same audit log as channel "web".
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, URLSafeSerializer
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from ... import messages
from ...accounts import AccountStore
from ...answer import Answer
from ...assistant import Assistant, InvalidQuestion
from ...audit import AuditLog
from ...config import Settings
from ..common import AnswerPool, RateLimiter, Role, audience_of
from . import security
from .render import answer_blocks, cite_marks

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
BLOCK_PAUSE_SECONDS = 0.04  # between the blocks of an extractive answer, so it visibly streams in
CONVERSATIONS_KEPT = 20_000
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                               "base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


@dataclass
class WebState:
    """Everything the routes share; one per app, on `app.state.web`."""

    settings: Settings
    assistant: Assistant
    audit: AuditLog
    accounts: AccountStore
    templates: Jinja2Templates
    signer: URLSafeSerializer
    sessions: RateLimiter
    addresses: RateLimiter
    logins: RateLimiter
    answers: AnswerPool
    previous: OrderedDict[str, str] = field(default_factory=OrderedDict)

    def remember(self, sid: str, question: str) -> None:
        """The last question per session, for follow-ups (kept server-side: the cookie is already sent
        when a streamed answer ends)."""
        self.previous[sid] = question
        self.previous.move_to_end(sid)
        while len(self.previous) > CONVERSATIONS_KEPT:
            self.previous.popitem(last=False)


def state_of(request: Request) -> WebState:
    return request.app.state.web


State = Annotated[WebState, Depends(state_of)]


def page(request: Request, name: str, **context: object) -> HTMLResponse:
    """Render a page with what every page needs (CSRF token, the logged-in account, texts)."""
    web = state_of(request)
    return web.templates.TemplateResponse(request, name, {
        "csrf_token": security.csrf_token(request), "account": security.logged_in(request),
        "max_chars": web.settings.max_question_chars, **context})


def client_address(request: Request) -> str:
    """The resident's address; behind the proxy uvicorn has already taken it from X-Forwarded-For
    (only from FAZHI_WEB_FORWARDED_ALLOW_IPS)."""
    return request.client.host if request.client else "unknown"


# ---- questions -------------------------------------------------------------------------------------
class Question(BaseModel):
    question: str = ""


class SituationChoice(BaseModel):
    situation_id: str


class Feedback(BaseModel):
    token: str
    value: Literal["up", "down"]


def checked_question(body: Question, web: State) -> str:
    """Empty or over-long input is refused before it counts against the quota."""
    try:
        return web.assistant.check_question(body.question)
    except InvalidQuestion as exc:
        raise HTTPException(422, str(exc)) from exc


def resident_limits(request: Request, web: State) -> None:
    """Per session and per address, as Telegram limits per user: a shared village address gets more."""
    limited = web.sessions.check(security.session_id(request)) or web.addresses.check(client_address(request))
    if limited:
        raise HTTPException(429, limited)


def resident_question(request: Request, web: State, question: Annotated[str, Depends(checked_question)]) -> str:
    resident_limits(request, web)
    return question


async def stream_answer(web: WebState, role: Role, owner: str,
                        work: Callable[[Callable[[str], None]], Answer]) -> AsyncIterator[ServerSentEvent]:
    """Run `work` in a thread; LLM tokens go out as `token` events while it runs, then the checked
    answer as `block` events (rendered HTML, one per part), then `done` with the feedback token."""
    loop = asyncio.get_running_loop()
    tokens: asyncio.Queue[str] = asyncio.Queue()

    def answer_and_record(on_token: Callable[[str], None]) -> tuple[Answer, int]:
        """Recorded in the worker thread: a reader who closes the page still leaves the exchange audited."""
        answer = work(on_token)
        return answer, web.audit.record("web", role, owner, answer.question, answer.render(),
                                        [s.citation for s in answer.sources])

    task = asyncio.ensure_future(web.answers.run(
        answer_and_record, lambda t: loop.call_soon_threadsafe(tokens.put_nowait, t)))
    while not task.done():
        getter = asyncio.ensure_future(tokens.get())
        await asyncio.wait({task, getter}, return_when=asyncio.FIRST_COMPLETED)
        if getter.done():
            yield ServerSentEvent(event="token", data=getter.result())
        else:
            getter.cancel()
    try:
        answer, exchange_id = task.result()
    except InvalidQuestion as exc:
        yield ServerSentEvent(event="failed", data=str(exc))
        return
    except Exception:
        log.exception("web answer failed")
        yield ServerSentEvent(event="failed", data=messages.GENERIC_ERROR)
        return
    macro = web.templates.get_template("_answer.html").module.block  # type: ignore[attr-defined]
    for block in answer_blocks(answer):
        yield ServerSentEvent(event="block", data=str(macro(block, role != "resident")))
        await asyncio.sleep(BLOCK_PAUSE_SECONDS)
    yield ServerSentEvent(event="done", data={
        "feedback": web.signer.dumps({"exchange": exchange_id, "owner": owner}),
        "choices": [{"id": sid, "label": messages.SITUATION_BUTTON.format(name=name)}
                    for sid, name in answer.choices]})


def ask_stream(web: WebState, request: Request, question: str, role: Role) -> AsyncIterator[ServerSentEvent]:
    """The question as this role may ask it; the follow-up context is the session's last question."""
    sid = security.session_id(request)
    previous = web.previous.get(sid)
    web.remember(sid, question)
    owner = sid if role == "resident" else security.logged_in(request).username  # type: ignore[union-attr]
    return stream_answer(web, role, owner,
                         lambda on_token: web.assistant.ask(question, audience_of(role), previous, on_token))


def build_resident_routes(app: FastAPI) -> None:
    @app.get("/", response_class=HTMLResponse)
    async def resident_page(request: Request) -> HTMLResponse:
        security.session_id(request)
        return page(request, "resident.html", examples=messages.WEB_EXAMPLES, staff=False)

    @app.post("/api/ask", response_class=EventSourceResponse, dependencies=[security.CSRF])
    async def resident_ask(request: Request, web: State,
                           question: Annotated[str, Depends(resident_question)]) -> AsyncIterator[ServerSentEvent]:
        async for event in ask_stream(web, request, question, "resident"):
            yield event

    @app.post("/api/situation", response_class=EventSourceResponse,
              dependencies=[security.CSRF, Depends(resident_limits)])
    async def resident_situation(request: Request, web: State,
                                 choice: SituationChoice) -> AsyncIterator[ServerSentEvent]:
        """The resident picked one of two close situations (“您问的是…”)."""
        sid = security.session_id(request)
        previous = web.previous.get(sid, "")

        def work(_: Callable[[str], None]) -> Answer:
            try:
                return web.assistant.answer_situation(choice.situation_id, previous)
            except KeyError as exc:
                raise InvalidQuestion(messages.SITUATION_GONE) from exc

        async for event in stream_answer(web, "resident", sid, work):
            yield event

    @app.post("/api/new", dependencies=[security.CSRF])
    async def new_topic(request: Request, web: State) -> dict[str, str]:
        web.previous.pop(security.session_id(request), None)
        return {"message": messages.CONVERSATION_CLEARED}

    @app.post("/api/feedback", dependencies=[security.CSRF])
    async def feedback(request: Request, web: State, body: Feedback) -> dict[str, str]:
        """Only the session (or staff account) that got the answer may rate it."""
        try:
            data = web.signer.loads(body.token)
        except BadSignature as exc:
            raise HTTPException(403, messages.WEB_CSRF_FAILED) from exc
        account = security.logged_in(request)
        if data.get("owner") not in (security.session_id(request), account.username if account else None):
            raise HTTPException(403, messages.WEB_CSRF_FAILED)
        await run_in_threadpool(web.audit.set_feedback, int(data["exchange"]), body.value)
        return {"message": messages.FEEDBACK_THANKS}


# ---- the app ---------------------------------------------------------------------------------------
JSON_ROUTES = ("/staff/upload", "/staff/draft")  # called by the page's scripts only


def wants_json(request: Request) -> bool:
    path = request.url.path
    return "/api/" in path or path in JSON_ROUTES or "application/json" in request.headers.get("accept", "")


def build_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)  # also the router's own 404 and 405
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """Chinese messages: JSON for the page's scripts, a plain page for a browser's navigation."""
        detail = exc.detail if isinstance(exc.detail, str) else messages.GENERIC_ERROR
        if exc.status_code == 404:
            detail = messages.WEB_NOT_FOUND
        if wants_json(request):
            return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)
        response = page(request, "message.html", message=detail)
        response.status_code = exc.status_code
        return response

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        """A malformed request (not from our page): one Chinese sentence, not pydantic's details."""
        return await http_error(request, HTTPException(422, messages.WEB_BAD_REQUEST))

    @app.exception_handler(security.LoginRequired)
    async def login_required(request: Request, exc: security.LoginRequired) -> Response:
        if wants_json(request) or request.method != "GET":
            return JSONResponse({"detail": messages.WEB_LOGIN_REQUIRED}, status_code=401)
        return RedirectResponse("/staff/login", status_code=303)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.path.startswith("/staff") or request.url.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            response.headers["X-Accel-Buffering"] = "no"  # nginx passes each event on at once
        return response


def create_app(settings: Settings, assistant: Assistant, audit: AuditLog | None = None,
               accounts: AccountStore | None = None) -> FastAPI:
    """One app per Assistant; tests hand in their own stores, `serve()` builds them from settings."""
    from .staff import router as staff_router

    key = security.secret_key(settings.web_secret_key, settings.data_dir)
    templates = Jinja2Templates(directory=HERE / "templates")  # autoescape is on for .html
    templates.env.globals.update(messages=messages, cite_marks=cite_marks)
    web = WebState(
        settings=settings, assistant=assistant,
        audit=audit or AuditLog(settings.data_dir / "audit.sqlite"),
        accounts=accounts or AccountStore(settings.data_dir / "accounts.sqlite", settings.web_login_attempts,
                                          settings.web_lockout_minutes * 60),
        templates=templates, signer=URLSafeSerializer(key, salt="fazhi-feedback"),
        sessions=RateLimiter(settings.resident_rate_per_minute, settings.resident_daily_quota),
        addresses=RateLimiter(settings.web_address_rate_per_minute, settings.web_address_daily_quota),
        logins=RateLimiter(settings.web_login_attempts * 4, settings.web_login_attempts * 40),
        answers=AnswerPool(settings.answer_concurrency),
    )
    app = FastAPI(title=messages.WEB_TITLE, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.web = web
    app.add_middleware(SessionMiddleware, secret_key=key, session_cookie="fazhi_session",
                       max_age=settings.web_session_hours * 3600, same_site="lax", https_only=settings.web_https)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    build_error_handlers(app)
    build_resident_routes(app)
    app.include_router(staff_router)
    return app
