"""Telegram channel (python-telegram-bot v22): roles, commands, answers, feedback, uploads, limits.

Only channel concerns live here: who is asking (from settings, per update), formatting for Telegram,
rate limits. Questions, ingest and drafts go through `Assistant`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import html
import logging
import re
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import ChatAction, ChatType, MessageLimit, ParseMode
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from .. import messages
from ..answer import Answer
from ..assistant import Assistant, InvalidQuestion
from ..audit import AuditLog
from ..config import Settings
from ..drafting import PART_KEYS, DraftError, default_year, next_deadlines, part_title, render_text
from ..loaders import SUPPORTED_SUFFIXES, DocumentError
from .common import AnswerPool, RateLimiter, Role, audience_of

log = logging.getLogger(__name__)
STREAM_EDIT_SECONDS = 1.5
TYPING_DELAY_SECONDS = 0.5


def role_of(settings: Settings, update: Update) -> Role:
    """Decided from settings for every update; nothing a user types can change it."""
    user = update.effective_user
    chat = update.effective_chat
    if user and user.id in settings.admin_ids:
        return "admin"
    if user and user.id in settings.staff_ids:
        return "staff"
    if chat and settings.staff_chat_id is not None and chat.id == settings.staff_chat_id:
        return "staff"
    return "resident"


def format_answer_html(answer: Answer) -> str:
    """Telegram HTML: escaped text, citation markers kept, numbered sources in italics."""
    body = [html.escape(n) for n in answer.notes] + [html.escape(answer.text)]
    if answer.lists_sources:
        heading = messages.NEAREST_SOURCES if answer.abstained else messages.SOURCES_HEADING
        lines = [html.escape(s.line) for s in answer.sources]
        body.append(f"<b>{heading}</b>\n<i>" + "\n".join(lines) + "</i>")
    return "\n\n".join(body)


def split_message(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Split at paragraph, then line boundaries, never inside an HTML tag pair we opened."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for block in re.split(r"(\n\n)", text):
        if len(current) + len(block) <= limit:
            current += block
            continue
        if current.strip():
            parts.append(current.strip())
        current = ""
        while len(block) > limit:  # a single huge paragraph: cut at line ends, else hard
            cut = block.rfind("\n", 0, limit)
            cut = cut if cut > 0 else limit
            parts.append(block[:cut].strip())
            block = block[cut:]
        current = block
    if current.strip():
        parts.append(current.strip())
    return [_balance_tags(p) for p in parts]


def _balance_tags(part: str) -> str:
    for tag in ("b", "i"):
        opened, closed = part.count(f"<{tag}>"), part.count(f"</{tag}>")
        if opened > closed:
            part += f"</{tag}>" * (opened - closed)
        elif closed > opened:
            part = f"<{tag}>" * (closed - opened) + part
    return part


def requires(level: Literal["staff", "admin"], refusal: str):
    """Guard a handler by role (admins may do everything staff may); refuse in one clear sentence."""
    def decorate(handler):
        @functools.wraps(handler)
        async def guarded(self: TelegramBot, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            role = self.role(update)
            if role == "admin" or role == level:
                await handler(self, update, context)
            elif update.callback_query is not None:
                await update.callback_query.answer(refusal, show_alert=True)
            else:
                await update.effective_message.reply_text(refusal)
        return guarded
    return decorate


def feedback_keyboard(exchange_id: int, choices: list[tuple[str, str]] = ()) -> InlineKeyboardMarkup:
    """👍/👎, and above them one button per situation when two fit the question (“您问的是…”)."""
    rows = [[InlineKeyboardButton(messages.SITUATION_BUTTON.format(name=name), callback_data=f"sit:{sid}")]
            for sid, name in choices]
    rows.append([
        InlineKeyboardButton(messages.FEEDBACK_UP, callback_data=f"fb:{exchange_id}:up"),
        InlineKeyboardButton(messages.FEEDBACK_DOWN, callback_data=f"fb:{exchange_id}:down"),
    ])
    return InlineKeyboardMarkup(rows)


class TelegramBot:
    """Handlers bound to one Assistant; `build()` returns the PTB Application."""

    def __init__(self, settings: Settings, assistant: Assistant, audit: AuditLog | None = None) -> None:
        self.settings = settings
        self.assistant = assistant
        self.audit = audit or AuditLog(settings.data_dir / "audit.sqlite")
        self.limiter = RateLimiter(settings.resident_rate_per_minute, settings.resident_daily_quota)
        self.pending_uploads: dict[str, Path] = {}
        self.answers = AnswerPool(settings.answer_concurrency)

    # ---- wiring ------------------------------------------------------------------------------
    def build(self, builder: ApplicationBuilder | None = None) -> Application:
        """`builder` lets tests hand in one already pointed at an emulator; otherwise settings decide."""
        if builder is None:
            builder = Application.builder().token(self.settings.telegram_token)
            if self.settings.telegram_base_url:
                builder = builder.base_url(self.settings.telegram_base_url)
            if self.settings.telegram_base_file_url:
                builder = builder.base_file_url(self.settings.telegram_base_file_url)
        app = builder.concurrent_updates(True).post_init(self._post_init).build()
        app.add_handler(CommandHandler("start", self.start))
        app.add_handler(CommandHandler("help", self.help))
        app.add_handler(CommandHandler("sources", self.sources))
        app.add_handler(CommandHandler("new", self.new_conversation))
        app.add_handler(CommandHandler("draft", self.draft_menu))
        app.add_handler(CallbackQueryHandler(self.draft_part, pattern=r"^dr:"))
        app.add_handler(CommandHandler("export", self.export_audit))
        app.add_handler(CommandHandler("delete", self.delete_document))
        app.add_handler(CallbackQueryHandler(self.feedback, pattern=r"^fb:"))
        app.add_handler(CallbackQueryHandler(self.situation_choice, pattern=r"^sit:"))
        app.add_handler(CallbackQueryHandler(self.upload_choice, pattern=r"^up:"))
        app.add_handler(MessageHandler(filters.Document.ALL, self.document))
        app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, self.question))
        app.add_handler(MessageHandler(~filters.TEXT & ~filters.COMMAND & ~filters.StatusUpdate.ALL,
                                       self.not_text))
        app.add_error_handler(self.on_error)
        return app

    async def _post_init(self, app: Application) -> None:
        await app.bot.set_my_commands([BotCommand(name, text) for name, text in messages.COMMANDS.items()])
        await asyncio.to_thread(self.assistant.warm_up)
        if app.job_queue is not None:
            app.job_queue.run_repeating(self.remind_deadlines, interval=24 * 3600, first=60)

    # ---- helpers -----------------------------------------------------------------------------
    def role(self, update: Update) -> Role:
        return role_of(self.settings, update)

    @staticmethod
    def _addressed(update: Update, bot_username: str) -> bool:
        """In groups, answer only when mentioned or replied to (commands are routed separately)."""
        message = update.effective_message
        if message is None or update.effective_chat.type == ChatType.PRIVATE:
            return True
        reply = message.reply_to_message
        if reply is not None and reply.from_user is not None and reply.from_user.username == bot_username:
            return True
        mentions = message.parse_entities([MessageEntity.MENTION]).values()
        if any(m.lstrip("@").lower() == bot_username.lower() for m in mentions):
            return True
        return f"@{bot_username.lower()}" in (message.text or message.caption or "").lower()

    @staticmethod
    def _strip_mention(text: str, bot_username: str) -> str:
        return re.sub(rf"@{re.escape(bot_username)}\b", "", text, flags=re.IGNORECASE).strip()

    async def _reply_chunks(self, message: Message, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
        parts = split_message(text)
        for i, part in enumerate(parts):
            await message.reply_html(part, reply_markup=markup if i == len(parts) - 1 else None,
                                     do_quote=message.chat.type != ChatType.PRIVATE)

    @contextlib.asynccontextmanager
    async def _typing(self, message: Message):
        """Keep the typing indicator on while work runs (Telegram clears it after ~5 s). Shown only once
        the work has taken TYPING_DELAY_SECONDS: most answers come sooner, and a request per question
        that nobody sees costs the bot and the Bot API under load."""
        async def keep() -> None:
            await asyncio.sleep(TYPING_DELAY_SECONDS)
            while True:
                with contextlib.suppress(Exception):
                    await message.chat.send_action(ChatAction.TYPING)
                await asyncio.sleep(4)

        task = asyncio.create_task(keep())
        try:
            yield
        finally:
            task.cancel()

    # ---- commands ----------------------------------------------------------------------------
    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        name = html.escape(update.effective_user.first_name if update.effective_user else "")
        template = messages.WELCOME_RESIDENT if self.role(update) == "resident" else messages.WELCOME_STAFF
        await update.effective_message.reply_html(template.format(name=name))

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text(messages.HELP)

    async def new_conversation(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        context.chat_data.pop("previous", None)
        await update.effective_message.reply_text(messages.CONVERSATION_CLEARED)

    async def sources(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        groups = await asyncio.to_thread(self.assistant.source_groups, audience_of(self.role(update)))
        lines = [messages.SOURCES_TITLE]
        for group in groups:
            lines.append(group.summary())
            if group.doc_type in ("report", "other"):
                lines += [messages.SOURCES_DOC_LINE.format(title=html.escape(r.title), year=r.year or "—")
                          for r in group.documents[:20]]
        await self._reply_chunks(update.effective_message, "\n".join(lines))

    # ---- questions ---------------------------------------------------------------------------
    async def question(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        bot_username = context.bot.username
        if not self._addressed(update, bot_username):
            return
        role = self.role(update)
        user_id = update.effective_user.id if update.effective_user else 0
        if role == "resident" and (limited := self.limiter.check(user_id)):
            await message.reply_text(limited)
            return
        text = self._strip_mention(message.text or "", bot_username)
        previous = context.chat_data.get("previous")
        streamed: list[str] = []
        draft: Message | None = None
        try:
            async with self._typing(message):
                work = asyncio.ensure_future(self.answers.run(
                    self.assistant.ask, text, audience_of(role), previous, streamed.append))
                draft = await self._show_progress(message, work, streamed)
                answer = await work
        except InvalidQuestion as exc:
            await message.reply_text(str(exc))
            return
        context.chat_data["previous"] = answer.question
        await self._send_answer(message, answer, role, user_id, draft)

    async def _send_answer(self, message: Message, answer: Answer, role: Role, user_id: int,
                           draft: Message | None = None) -> None:
        """Audit, then reply in parts under Telegram's limit, the buttons under the last part."""
        exchange_id = self.audit.record("telegram", role, user_id, answer.question, answer.render(),
                                        [s.citation for s in answer.sources])
        parts = split_message(format_answer_html(answer))
        keyboard = feedback_keyboard(exchange_id, answer.choices)
        if draft is not None:  # the streamed message becomes the checked answer
            await draft.edit_text(parts[0], parse_mode=ParseMode.HTML,
                                  reply_markup=keyboard if len(parts) == 1 else None)
            parts = parts[1:]
        for i, part in enumerate(parts):
            await message.reply_html(part, reply_markup=keyboard if i == len(parts) - 1 else None,
                                     do_quote=message.chat.type != ChatType.PRIVATE)

    async def _show_progress(self, message: Message, work: asyncio.Future, streamed: list[str]) -> Message | None:
        """While an LLM streams, show its text in one message, edited at most every STREAM_EDIT_SECONDS
        (Telegram rate-limits edits); returns that message so the checked answer can replace it."""
        draft: Message | None = None
        shown = ""
        while not work.done():
            await asyncio.wait([work], timeout=STREAM_EDIT_SECONDS)
            current = "".join(streamed)[: MessageLimit.MAX_TEXT_LENGTH - 10]
            if work.done() or not current or current == shown:
                continue
            with contextlib.suppress(Exception):  # a failed preview edit must not lose the answer
                if draft is None:
                    draft = await message.reply_text(current + " …")
                else:
                    await draft.edit_text(current + " …")
                shown = current
        return draft

    async def situation_choice(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The resident picked one of the situations offered: answer for that one."""
        query = update.callback_query
        await query.answer()
        situation_id = (query.data or "").removeprefix("sit:")
        try:
            answer = await self.answers.run(self.assistant.answer_situation, situation_id,
                                            context.chat_data.get("previous", ""))
        except KeyError:
            await query.message.reply_text(messages.SITUATION_GONE)
            return
        user_id = update.effective_user.id if update.effective_user else 0
        await self._send_answer(query.message, answer, self.role(update), user_id)

    async def not_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if self._addressed(update, context.bot.username):
            await update.effective_message.reply_text(messages.NOT_TEXT_MESSAGE)

    async def feedback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        _, exchange_id, value = (query.data or "").split(":")
        self.audit.set_feedback(int(exchange_id), value)
        await query.answer(messages.FEEDBACK_THANKS)
        with contextlib.suppress(Exception):
            await query.edit_message_reply_markup(reply_markup=None)

    # ---- drafting ----------------------------------------------------------------------------
    @requires("staff", messages.STAFF_ONLY)
    async def draft_menu(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        try:
            year = await asyncio.to_thread(default_year, self.assistant.index)
        except DraftError as exc:
            await update.effective_message.reply_text(str(exc))
            return
        buttons = [[InlineKeyboardButton(messages.DRAFT_WHOLE, callback_data=f"dr:{year}:all")]]
        buttons += [[InlineKeyboardButton(part_title(key, year), callback_data=f"dr:{year}:{key}")]
                    for key in PART_KEYS]
        await update.effective_message.reply_text(messages.DRAFT_CHOOSE_PART.format(year=year),
                                                  reply_markup=InlineKeyboardMarkup(buttons))

    @requires("staff", messages.STAFF_ONLY)
    async def draft_part(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        _, year, part = (query.data or "").split(":")
        await query.answer()
        label = messages.DRAFT_WHOLE if part == "all" else part_title(part, int(year))
        await query.edit_message_text(messages.DRAFT_WORKING.format(part=label))
        message = query.message
        try:
            async with self._typing(message):
                draft = await asyncio.to_thread(self.assistant.draft, int(year), part)
                paths = await asyncio.to_thread(self.assistant.export_draft, draft,
                                                self.assistant.draft_path(draft, part))
        except DraftError as exc:
            await message.reply_text(str(exc))
            return
        for text in render_text(draft):
            for chunk in split_message(html.escape(text)):
                await message.reply_html(chunk)
        for path in paths:
            with path.open("rb") as handle:
                await message.reply_document(handle, filename=path.name, caption=messages.DRAFT_DOCX_CAPTION.format(
                    title=draft.title, part=label))

    async def remind_deadlines(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Daily: tell staff about the 1 March / 1 April deadlines once each, when they come near."""
        today = date.today()
        sent: set = context.bot_data.setdefault("reminded", set())
        for due, label in next_deadlines(today, self.settings.report_due, self.settings.publish_due):
            days = (due - today).days
            if days > self.settings.reminder_days_ahead or (due, label) in sent:
                continue
            sent.add((due, label))
            text = messages.DEADLINE_REMINDER.format(label=label, date=due.isoformat(), days=days)
            recipients = set(self.settings.staff_ids) | set(self.settings.admin_ids)
            if self.settings.staff_chat_id is not None:
                recipients.add(self.settings.staff_chat_id)
            for chat_id in sorted(recipients):
                try:
                    await context.bot.send_message(chat_id, text)
                except Exception as exc:  # a staff member who never opened the bot cannot be messaged
                    log.warning("reminder to %s failed: %s", chat_id, exc)

    # ---- admin -------------------------------------------------------------------------------
    @requires("admin", messages.ADMIN_ONLY)
    async def export_audit(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/export [since] [until] (ISO dates): the audit log as CSV, for 督察 review."""
        message = update.effective_message
        try:
            bounds = [datetime.fromisoformat(a) for a in (context.args or [])[:2]]
        except ValueError:
            bounds = []
        self.audit.purge(self.settings.audit_retention_days)
        path = self.settings.data_dir / "exports" / f"audit-{uuid.uuid4().hex[:8]}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        count = await asyncio.to_thread(self.audit.export_csv, path, *bounds)
        period = " — ".join(b.date().isoformat() for b in bounds) or messages.EXPORT_PERIOD_ALL
        with path.open("rb") as handle:
            await message.reply_document(handle, filename="问答记录.csv",
                                         caption=messages.EXPORT_CAPTION.format(count=count, period=period))

    @requires("admin", messages.ADMIN_ONLY)
    async def delete_document(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        title = " ".join(context.args or []).strip()
        if not title:
            await message.reply_text(messages.DELETE_USAGE)
            return
        removed = await asyncio.to_thread(self.assistant.remove, title)
        await message.reply_text(messages.DELETE_DONE.format(titles="、".join(removed)) if removed
                                 else messages.DELETE_NOT_FOUND.format(title=title))

    # ---- uploads -----------------------------------------------------------------------------
    async def document(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if not self._addressed(update, context.bot.username) and message.chat.type != ChatType.PRIVATE:
            return
        if self.role(update) == "resident":
            await message.reply_text(messages.UPLOAD_RESIDENT_DECLINED)
            return
        document = message.document
        name = Path(document.file_name or "upload").name
        if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
            await message.reply_text(messages.DOCUMENT_ERRORS["unsupported_type"])
            return
        if (document.file_size or 0) > self.settings.max_upload_bytes:
            limit = f"{self.settings.max_upload_bytes // (1024 * 1024)} MB"
            await message.reply_text(messages.DOCUMENT_ERRORS["too_large"].format(limit=limit))
            return
        upload_id = uuid.uuid4().hex[:12]
        target = self.settings.uploads_dir / upload_id / name
        target.parent.mkdir(parents=True, exist_ok=True)
        telegram_file = await document.get_file()
        await telegram_file.download_to_drive(target)
        self.pending_uploads[upload_id] = target
        keyboard = InlineKeyboardMarkup([[
            InlineKeyboardButton(messages.UPLOAD_PUBLIC, callback_data=f"up:{upload_id}:public"),
            InlineKeyboardButton(messages.UPLOAD_INTERNAL, callback_data=f"up:{upload_id}:staff"),
        ]])
        await message.reply_text(messages.UPLOAD_ASK_AUDIENCE.format(name=name), reply_markup=keyboard)

    @requires("staff", messages.STAFF_ONLY)
    async def upload_choice(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        _, upload_id, audience = (query.data or "").split(":")
        path = self.pending_uploads.pop(upload_id, None)
        await query.answer()
        if path is None or not path.exists():
            await query.edit_message_text(messages.UPLOAD_EXPIRED)
            return
        await query.edit_message_text(messages.UPLOAD_WORKING.format(name=path.name))
        report = await asyncio.to_thread(self.assistant.ingest_upload, path, audience)
        if report.failed:
            error: DocumentError = report.failed[0][1]
            reason = messages.DOCUMENT_ERRORS.get(error.reason, messages.DOCUMENT_ERRORS["corrupt"])
            reason = reason.format(limit=f"{self.settings.max_upload_bytes // (1024 * 1024)} MB")
            self.pending_uploads[upload_id] = path  # the stored file stays; the clerk can retry
            retry = InlineKeyboardMarkup([[InlineKeyboardButton(
                messages.UPLOAD_RETRY, callback_data=f"up:{upload_id}:{audience}")]])
            await query.edit_message_text(messages.UPLOAD_FAILED.format(reason=reason), reply_markup=retry)
            return
        docs = report.added + report.updated
        if not docs:
            await query.edit_message_text(messages.UPLOAD_UNCHANGED)
            return
        doc = docs[0]
        await query.edit_message_text(messages.UPLOAD_DONE.format(
            title=doc.title, chunks=len(doc.chunks), year=doc.year or "不详",
            audience=messages.AUDIENCE_NAMES[doc.audience]))

    # ---- errors ------------------------------------------------------------------------------
    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("update failed: %s", context.error, exc_info=context.error)
        if isinstance(update, Update) and update.effective_message:
            with contextlib.suppress(Exception):
                await update.effective_message.reply_text(messages.GENERIC_ERROR)


TOKEN_FORMAT = re.compile(r"^\d+:[A-Za-z0-9_-]+$")


def check_settings(settings: Settings) -> str | None:
    """One line saying what is wrong with the bot's settings, or None."""
    if not settings.telegram_token:
        return "缺少 FAZHI_TELEGRAM_TOKEN（在 .env 中填写 BotFather 给的令牌）。"
    if not TOKEN_FORMAT.match(settings.telegram_token):
        return "FAZHI_TELEGRAM_TOKEN 格式不对，应形如 123456789:AAE…（BotFather 给的令牌）。"
    if settings.webhook_url and not settings.webhook_url.startswith(("https://", "http://127.0.0.1")):
        return "FAZHI_WEBHOOK_URL 必须是 https:// 开头的公网地址（或本机测试地址 http://127.0.0.1）。"
    return None


def run(app: Application, settings: Settings, **options) -> None:
    """Long polling by default, a webhook when FAZHI_WEBHOOK_URL is set (`options` go to PTB's runner)."""
    if settings.webhook_url:
        app.run_webhook(listen=settings.webhook_listen, port=settings.webhook_port,
                        url_path=urlparse(settings.webhook_url).path.strip("/"),  # same path as behind a proxy
                        webhook_url=settings.webhook_url, secret_token=settings.webhook_secret or None,
                        allowed_updates=Update.ALL_TYPES, **options)
    else:
        app.run_polling(allowed_updates=Update.ALL_TYPES, **options)


def serve(settings: Settings) -> None:
    settings = settings.for_questions()
    run(TelegramBot(settings, Assistant(settings)).build(), settings)
