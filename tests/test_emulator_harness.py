"""The emulator harness drives a real PTB 22.8 Application end to end over loopback.

The application is defined here, not taken from bot/, so these tests pin the harness itself: every
Bot API call the bot is expected to make (HTML replies, inline keyboards, callback answers and edits,
file download and upload, chat actions, command registration) round-trips through the emulator.
"""

import asyncio
from collections.abc import Iterator

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from .telegram_emulator import (
    BotHandlerError,
    EmulatorError,
    TelegramEmulator,
    running_application,
    telegram_emulator_fixture,  # noqa: F401  (the telegram_emulator fixture)
)

USER = 1001
GROUP = -100555
REPORT = "镇政府法治工作报告\n第一条 依法行政。\n".encode() * 50


async def start(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("查法律", callback_data="law"),
                InlineKeyboardButton("看报告", callback_data="report"),
            ]
        ]
    )
    await update.effective_message.reply_html(
        f"<b>你好，{update.effective_user.first_name}！</b>\n请选择：", reply_markup=keyboard
    )


async def echo(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    replied = f"（回复 {message.reply_to_message.message_id}）" if message.reply_to_message else ""
    await message.reply_text(f"你说：{message.text}{replied}", do_quote=True)


async def on_button(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    await query.answer(f"已选择 {query.data}")
    await query.edit_message_text(f"你选择了：{query.data}")


async def on_document(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    document = update.effective_message.document
    data = await (await document.get_file()).download_as_bytearray()
    await update.effective_message.reply_text(f"收到 {document.file_name}：{len(data)} 字节")


async def send_report(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await context.bot.send_chat_action(update.effective_chat.id, ChatAction.UPLOAD_DOCUMENT)
    await update.effective_message.reply_document(
        REPORT, filename="报告.txt", caption="<b>法治报告</b>", parse_mode=ParseMode.HTML
    )


async def bad_html(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_message.reply_html("第 3 条 <规定>")


async def post_init(application: Application) -> None:
    await application.bot.set_my_commands([("start", "开始使用"), ("report", "下载报告")])


@pytest.fixture
def bot_errors(telegram_emulator: TelegramEmulator) -> Iterator[list[BaseException]]:
    application = telegram_emulator.application_builder().post_init(post_init).build()
    application.add_handlers(
        [
            CommandHandler("start", start),
            CommandHandler("report", send_report),
            CallbackQueryHandler(on_button),
            MessageHandler(filters.Document.ALL, on_document),
            MessageHandler(filters.TEXT & ~filters.COMMAND, echo),
        ]
    )
    with running_application(application) as errors:
        yield errors


def test_start_replies_with_html_keyboard_and_commands_are_registered(
    telegram_emulator: TelegramEmulator,
    bot_errors: list[BaseException],
) -> None:
    telegram_emulator.send_command(USER, USER, "start", first_name="张三")

    [reply] = telegram_emulator.wait_for_bot_messages(USER)
    assert reply.text == "<b>你好，张三！</b>\n请选择："
    assert reply.parse_mode == "HTML"
    assert reply.callback_data == ["law", "report"]
    assert telegram_emulator.registered_commands() == [("start", "开始使用"), ("report", "下载报告")]


def test_button_press_is_answered_and_the_message_edited(
    telegram_emulator: TelegramEmulator,
    bot_errors: list[BaseException],
) -> None:
    telegram_emulator.send_command(USER, USER, "start")
    [menu] = telegram_emulator.wait_for_bot_messages(USER)

    query_id = telegram_emulator.press_button(USER, USER, menu.message_id, "law")

    edited = telegram_emulator.wait_until(
        lambda: telegram_emulator.bot_messages(USER)[0].edits, what="the edit"
    )
    assert [version.text for version in edited] == ["你选择了：law"]
    [message] = telegram_emulator.bot_messages(USER)
    # Editing the text without a reply_markup drops the keyboard, as on Telegram.
    assert message.reply_markup is None
    assert telegram_emulator.callback_answers() == [
        {
            "callback_query_id": query_id,
            "text": "已选择 law",
            "show_alert": False,
            "url": None,
            "cache_time": None,
        }
    ]
    with pytest.raises(EmulatorError, match="no button"):
        telegram_emulator.press_button(USER, USER, menu.message_id, "law")


def test_chinese_text_round_trips(
    telegram_emulator: TelegramEmulator,
    bot_errors: list[BaseException],
) -> None:
    text = "土地承包经营权可以继承吗？《民法典》第三百三十一条"
    message_id = telegram_emulator.send_message(USER, USER, text)

    [reply] = telegram_emulator.wait_for_bot_messages(USER)
    assert reply.text == f"你说：{text}"
    assert reply.reply_to_message_id == message_id


def test_a_client_in_another_process_attaches_to_the_running_emulator(
    telegram_emulator: TelegramEmulator,
    bot_errors: list[BaseException],
) -> None:
    """The load benchmark's users run in a process of their own, attached to the emulator by its port."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        newest = pool.submit(_ask_from_elsewhere, telegram_emulator.port, "从别的进程来的问题").result(timeout=60)
    [reply] = telegram_emulator.wait_for_bot_messages(USER + 1)
    assert reply.message_id == newest and reply.text == "你说：从别的进程来的问题"


def _ask_from_elsewhere(port: int, text: str) -> int:
    client = TelegramEmulator.attach(port)
    try:
        client.send_message(USER + 1, USER + 1, text)
        return client.wait_for_bot_message(USER + 1, 0, timeout=30)
    finally:
        client.stop()


def test_group_chat_command_button_and_reply(
    telegram_emulator: TelegramEmulator,
    bot_errors: list[BaseException],
) -> None:
    command = f"start@{telegram_emulator.bot_username}"
    telegram_emulator.send_command(
        USER, GROUP, command, chat_type="group", chat_title="某镇法治群", first_name="李四"
    )
    [menu] = telegram_emulator.wait_for_bot_messages(GROUP)
    assert menu.text == "<b>你好，李四！</b>\n请选择："

    telegram_emulator.press_button(USER, GROUP, menu.message_id, "report")
    telegram_emulator.wait_until(lambda: telegram_emulator.bot_messages(GROUP)[0].edits, what="the edit")
    telegram_emulator.send_message(USER, GROUP, "谢谢", "group", reply_to=menu.message_id)

    [_, reply] = telegram_emulator.wait_for_bot_messages(GROUP, 2)
    assert reply.text == f"你说：谢谢（回复 {menu.message_id}）"
    assert telegram_emulator.bot_messages(USER) == []


def test_user_document_is_downloaded_by_the_bot(
    telegram_emulator: TelegramEmulator,
    bot_errors: list[BaseException],
) -> None:
    telegram_emulator.send_document(USER, USER, "民法典摘录.txt", REPORT, "text/plain")

    [reply] = telegram_emulator.wait_for_bot_messages(USER)
    assert reply.text == f"收到 民法典摘录.txt：{len(REPORT)} 字节"


def test_bot_document_and_chat_action_are_recorded(
    telegram_emulator: TelegramEmulator,
    bot_errors: list[BaseException],
) -> None:
    telegram_emulator.send_command(USER, USER, "report")

    telegram_emulator.wait_for_bot_messages(USER)
    [document] = telegram_emulator.sent_documents(USER)
    assert (document.file_name, document.caption, document.data) == ("报告.txt", "<b>法治报告</b>", REPORT)
    assert telegram_emulator.chat_actions(USER) == ["upload_document"]


def test_handler_errors_fail_the_test(telegram_emulator: TelegramEmulator) -> None:
    application = telegram_emulator.application_builder().build()
    application.add_handler(CommandHandler("bad", bad_html))

    with pytest.raises(BotHandlerError) as failure, running_application(application) as errors:
        telegram_emulator.send_command(USER, USER, "bad")
        telegram_emulator.wait_until(lambda: errors, what="the handler error")

    assert isinstance(failure.value.__cause__, BadRequest)
    assert 'unsupported start tag "规定"' in str(failure.value.__cause__)  # Telegram rejects a bare "<"
    assert telegram_emulator.bot_messages(USER) == []


def test_bot_api_refusals_match_telegram(telegram_emulator: TelegramEmulator) -> None:
    telegram_emulator.send_message(USER, USER, "你好")  # a bot can only write to chats it has seen

    async def scenario() -> None:
        async with telegram_emulator.application_builder().build().bot as bot:
            with pytest.raises(BadRequest, match="(?i)chat not found"):
                await bot.send_message(USER + 1, "你好")
            with pytest.raises(BadRequest, match="(?i)message is too long"):
                await bot.send_message(USER, "法" * 4097)
            too_long_data = InlineKeyboardMarkup([[InlineKeyboardButton("按钮", callback_data="条" * 22)]])
            with pytest.raises(BadRequest, match="(?i)button_data_invalid"):
                await bot.send_message(USER, "请选择", reply_markup=too_long_data)
            with pytest.raises(BadRequest, match="(?i)bot_command_invalid"):
                await bot.set_my_commands([("查法律", "中文命令名不被接受")])
            message = await bot.send_message(USER, "<b>第一条</b> 总则", parse_mode=ParseMode.HTML)
            assert message.text == "第一条 总则"  # Telegram returns the parsed text
            with pytest.raises(BadRequest, match="(?i)message is not modified"):
                await message.edit_text("<b>第一条</b> 总则", parse_mode=ParseMode.HTML)
            assert await message.delete()

    asyncio.run(scenario())
    assert telegram_emulator.bot_messages(USER) == []
