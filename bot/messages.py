"""Every user-facing sentence, in one place (Chinese). Code refers to these by name."""

from __future__ import annotations

NOT_FOUND = "现有文件中没有找到这方面的内容。"
NEAREST_SOURCES = "最接近的来源："
NOT_FOUND_PUBLIC = "没有找到能直接回答这个问题的现行法律条文。"
SOURCES_HEADING = "来源："
EMPTY_QUESTION = "请输入您想问的问题，例如：“人民调解收费吗？”"
QUESTION_TOO_LONG = "问题太长了（最多 {limit} 个字），请精简后再问。"
NO_TEXT_IN_QUESTION = "没有看懂这条消息，请用文字描述您的问题。"
REPEALED_NOTE = "注意：《{law}》{article}所在的版本已{status}，以下依据现行有效的版本。"
REPEALED_ONLY = "注意：《{law}》已{status}，现行法律中没有找到对应条文。"
ARTICLE_MISSING = "《{law}》中没有找到第{number}条。"

DOCUMENT_ERRORS = {
    "unsupported_type": "暂不支持这种文件类型，请上传 .docx、.pdf、.txt 或 .md 文件。",
    "type_mismatch": "文件内容与扩展名不符（例如改了扩展名的其他文件），未收录。",
    "not_text": "文件不是可读的文本，未收录。",
    "corrupt": "文件已损坏或不完整，无法读取，未收录。",
    "encrypted": "PDF 文件有密码保护，请解除加密后再上传。",
    "no_text_layer": "这份 PDF 没有文字层（可能是扫描件），请先做文字识别（OCR）或上传 Word 版本。",
    "zip_bomb": "文件解压后异常巨大，出于安全考虑未收录。",
    "too_large": "文件超过大小上限（{limit}），未收录。",
    "empty": "文件里没有可收录的文字内容。",
}

INGEST_SUMMARY = "收录完成：新增 {added} 份，更新 {updated} 份，未变 {unchanged} 份，移除 {removed} 份，失败 {failed} 份。"
INGEST_FAILED_LINE = "未收录 {file}：{reason}"

# ---- Telegram ----------------------------------------------------------------------------------
WELCOME_STAFF = (
    "您好，{name}！我是<b>法治助手</b>（工作人员模式）。\n\n"
    "• 直接发问题：我会从镇里的报告和法律法规中查找答案，并注明出处（文件、章节或条文）。\n"
    "• 发送 .docx / .pdf / .txt / .md 文件：收录进知识库（会先问您公开还是内部）。\n"
    "• /draft 起草下一年度法治政府建设报告（分部分）。\n"
    "• /sources 查看已收录的资料；/new 开始新话题；/help 帮助。"
)
WELCOME_RESIDENT = (
    "您好，{name}！我是<b>法治助手</b>，可以用大白话回答法律问题（普法）。\n\n"
    "例如：“邻居家的树倒了砸了我的车谁赔？”“老板拖欠工资怎么办？”\n"
    "我会告诉您相关的现行法律条文和可以去哪里求助（镇人民调解委员会、12348 法律援助热线）。\n"
    "回答仅供参考，不是针对个案的法律意见。/new 开始新话题；/help 帮助。"
)
HELP = (
    "使用方法：\n"
    "1. 直接输入问题，例如“人民调解收费吗？”。\n"
    "2. 接着追问也可以，例如“那调解员有多少名？”。\n"
    "3. /sources 查看资料范围；/new 清除对话记录。\n"
    "在群里请 @我 或回复我的消息。"
)
COMMANDS = {
    "start": "开始使用",
    "help": "使用帮助",
    "sources": "查看已收录的资料",
    "new": "开始新话题",
    "draft": "起草年度报告（工作人员）",
}
SOURCES_TITLE = "<b>已收录的资料</b>"
SOURCES_LINE = "• {kind}：{count} 份（现行有效 {current}），共 {chunks} 段"
SOURCES_DOC_LINE = "  - {title}（{year}）"
DOC_TYPE_NAMES = {"report": "镇政府报告", "law": "国家法律", "regulation": "行政法规和地方性法规", "other": "其他文件"}
CONVERSATION_CLEARED = "好的，已开始新话题。"
FEEDBACK_THANKS = "感谢反馈！"
FEEDBACK_UP = "👍 有用"
FEEDBACK_DOWN = "👎 没用"
RATE_LIMITED = "您提问太快了，请 {seconds} 秒后再试。"
QUOTA_EXCEEDED = "今天的提问次数已用完（每天 {quota} 次），请明天再来。紧急法律问题可拨打 12348 法律援助热线。"
UPLOAD_RESIDENT_DECLINED = "抱歉，只有镇政府工作人员可以上传文件。您有问题可以直接用文字问我。"
UPLOAD_ASK_AUDIENCE = "收到文件《{name}》。请选择这份文件的公开范围："
UPLOAD_PUBLIC = "公开（群众可查）"
UPLOAD_INTERNAL = "内部（仅工作人员）"
UPLOAD_WORKING = "正在收录《{name}》，请稍候…"
UPLOAD_DONE = "已收录：《{title}》，{chunks} 段，年份 {year}，{audience}。现在可以就它提问了。"
UPLOAD_UNCHANGED = "这份文件已经收录过，内容没有变化。"
UPLOAD_EXPIRED = "这个上传已处理或已过期，请重新发送文件。"
UPLOAD_FAILED = "收录失败：{reason}知识库保持原样，文件已保存，可稍后重试。"
AUDIENCE_NAMES = {"public": "公开", "staff": "仅内部"}
GENERIC_ERROR = "抱歉，处理您的消息时出了点问题，请稍后再试。"
STAFF_ONLY = "抱歉，这个功能仅供镇政府工作人员使用。"
NOT_TEXT_MESSAGE = "请用文字描述您的问题。"
