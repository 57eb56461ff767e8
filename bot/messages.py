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

NO_YEAR_DATA = "现有材料中没有{year}年的数据。"
KNOWLEDGE_DATA_ERROR = "知识数据有误：{error}\n请改正 knowledge/ 下的这个文件后再运行。"
OTHER_TOWNSHIP = "现有材料是{own}的，没有关于{other}的内容。"
NEAREST_YEAR_DATA = "以下是最接近的{year}年的材料："
COMPUTED_DIFFERENCE = "（计算值：{later}年比{earlier}年{change}，由以上两个引用数字相减得出，请核对。）"
CHANGE_MORE = "多{amount}"
CHANGE_LESS = "少{amount}"
CHANGE_SAME = "持平"
HEADER_FACT = "《{title}》的{facts}。"
HEADER_FACT_ITEM = "{field}是{value}"
HEADER_FIELD_NAMES = {"doc_number": "文号", "signer": "签发人", "recipient": "主送机关", "printed_by": "印发机关",
                      "issue_date": "印发日期", "title": "标题"}
OUTLINE_ANSWER = "《{title}》“{part}”部分共{count}项：{items}。"

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
    "export": "导出问答记录（管理员）",
    "delete": "删除已收录的文件（管理员）",
}
SOURCES_TITLE = "<b>已收录的资料</b>"
SOURCES_LINE = "• {kind}：{count} 份（现行有效 {current}），共 {chunks} 段"
SOURCES_DOC_LINE = "  - {title}（{year}）"
VECTORS_DEFERRED = ("另有 {count} 个条文片段暂无预置向量：现在已可按关键词检索，运行 fazhi sync 补齐语义检索"
                    "（可随时中断，下次接着做）。")
VECTORS_COMPLETED = "已补齐 {count} 个条文片段的向量。"
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

# ---- legal outreach (residents) --------------------------------------------------------------
OUTREACH_CONCLUSION = "【简单回答】"
OUTREACH_BASIS = "【法律依据】"
# after an article that an amendment in force rewrote or added: 《刑法》第一百七十六条（经《刑法修正案（十一）》第十二条修改）
AMENDED_BY = "（经《{law}》{article}修改）"
# after an article of a law adopted but not yet applicable: 《医疗保障法》第三十条（2027年1月1日起施行，目前尚未生效）
NOT_YET_IN_EFFECT = "（{date}起施行，目前尚未生效）"
OUTREACH_STEPS = "【您可以这样做】"
OUTREACH_MAYBE = "没有找到能直接回答的条文，以下规定可能与您的问题有关，建议咨询专业人士确认："
OUTREACH_NOTHING = "没有找到与您的问题直接相关的现行法律条文。"
DISCLAIMER = "【提示】以上是一般性的法律信息，不是针对您具体情况的法律意见；具体问题请咨询律师或法律援助机构。"
EMERGENCY_AFTER = "确认安全后，可以再来问我法律问题，也可以拨打 12348 法律援助热线。"
SITUATION_BUTTON = "我问的是：{name}"
SITUATION_GONE = "这个选项已失效，请重新提问。"
WHICH_SITUATION = "您问的是{names}中的哪一种？下面先按“{first}”回答，也可以点下方按钮换一种。"
IF_SITUATION = "如果您说的是“{name}”："
OUT_OF_SCOPE = "这个问题不属于法律咨询或镇政务的范围，我暂时回答不了。您可以问我法律方面的问题，例如“邻居家的树倒了砸了我的车谁赔？”"
CLARIFY = "能再具体说说吗？比如发生了什么事、和谁之间、您想解决什么问题。这样我才能找到对应的法律规定。"
SITUATION_DOMAIN_LINE = "【{domain}】{count} 个情形"
SITUATIONS_SUMMARY = "共 {count} 个情形、{domains} 个领域、{rules} 类紧急情况；条文问题 {problems} 处。"
SITUATION_PROBLEM = "  错误：{problem}"
EMERGENCY_TRAINED = "已用 {count} 条例句（其中紧急 {emergencies} 条）训练紧急情况分类器，{ngrams} 个字符片段，写入 {path}"
EMERGENCY_MODEL_CURRENT = "紧急情况分类器：按当前的 {count} 条例句和说法训练，是最新的。"
EMERGENCY_MODEL_STALE = "紧急情况分类器：例句或情形说法改过（现有 {count} 条），模型已过期，请运行 fazhi train-emergency。"
EMERGENCY_TRAIN_NO_SECTION = "emergencies.toml 中没有 [probable] 一节（first_line、threshold、regularization），无法训练。"
URGENCY_NAMES = {"normal": "一般", "police": "先报警", "emergency": "紧急"}
LAW_REPEALED = "您提到的《{name}》{note}，下面按现行有效的法律回答。"
LAW_STATUS_NOTE = "注意：《{law}》（{version}版）状态为“{status}”，以下依据现行有效的规定。"

# ---- LLM mode ----------------------------------------------------------------------------------
LLM_UNAVAILABLE = "（大模型暂时不可用，以下为原文摘录的回答。）"
LLM_FAILED_CHECK = "（大模型的回答未通过出处核查，已改用原文摘录的回答。）"
LLM_UNKNOWN_ARTICLES = "注意：回答中提到的 {items} 在法律库中没有找到，请勿依据。"
LLM_REPEALED_ARTICLES = "注意：回答中提到的 {items} 已不是现行有效的规定，请以现行法律为准。"

# ---- drafting ----------------------------------------------------------------------------------
DRAFT_TITLE = "{issuer}关于{year}年法治政府建设情况的报告"
DRAFT_PART_TITLES = {
    "results": "一、{year}年法治政府建设主要工作及成效",
    "problems": "二、存在的主要问题及原因",
    "leaders": "三、党政主要负责人履行推进法治建设第一责任人职责情况",
    "plans": "四、{next_year}年法治政府建设工作计划",
    "other": "五、其他需要报告的事项",
}
DRAFT_FIGURE_PLACEHOLDER = "【待填：{year}年数值（{previous}年：{value}）】"
DRAFT_SITUATION_PLACEHOLDER = "【待填：{year}年情况】（{previous}年：{text}）"
DRAFT_NO_EVIDENCE = "【未找到{year}年相关材料】"
DRAFT_PLAN_INTENT = "{previous}年报告所列计划：{text}"
DRAFT_EVIDENCE_LINE = "{year}年材料：{excerpt}（来源：{citation}）"
DRAFT_REFERENCE_LINE = "对照{previous}年“{heading}”：{text}"
DRAFT_OTHER_WORK = "其他工作"
DRAFT_PROBLEM_LAST_YEAR = "{previous}年问题：{text}"
DRAFT_PROBLEM_CHECK = "是否已解决？【待填】"
DRAFT_NEW_PROBLEMS = "【待填：{year}年存在的主要问题及原因】"
DRAFT_LEADERS_MISSING = "【待填：{year}年党政主要负责人履行推进法治建设第一责任人职责情况】"
DRAFT_PLAN_HEADING = "【待填：{year}年工作计划】"
DRAFT_PLAN_PROMPT = "参考：{previous}年报告所列计划“{item}”，落实情况：{status}。"
DRAFT_OTHER_MATTERS = "【待填：其他需要报告的事项，没有可删除本部分】"
DRAFT_CROSSCHECK_CAPTION = "{previous}年报告所列工作计划落实情况对照"
DRAFT_CROSSCHECK_HEADER = ["计划事项", "落实情况", "材料来源"]
DRAFT_STATUS = {"done": "已落实", "partly": "部分落实", "none": "未见材料"}
DRAFT_DOC_NUMBER = "{prefix}〔{year}〕【待填】号"
DRAFT_DOC_NUMBER_UNKNOWN = "【待填：文号】"
DRAFT_SIGNER = "【待填】"
DRAFT_DATE = "{year}年【待填】月【待填】日"
DRAFT_DOCX_NOTE = "（此稿由法治助手生成，黄色标记处须逐项核实填写，定稿时删除本行）"
DRAFT_SUMMARY = (
    "《{title}》草稿\n"
    "依据：{previous_year}年报告，以及{year}年上传材料 {sources} 份。\n"
    "待填 {placeholders} 处（【】标出）。\n"
    "{previous_year}年所列计划落实：已落实 {done} 项，部分落实 {partly} 项，未见材料 {none} 项。"
)
DRAFT_WARNINGS_TITLE = "导出前请核查以下敏感信息（{count} 处）："
DRAFT_WARNING_LINE = "• {kind}：{excerpt}（{location}）"
DRAFT_NO_WARNINGS = "未发现身份证号、手机号、当事人姓名或密级标识。"
SENSITIVITY_KINDS = {"id_card": "身份证号", "mobile": "手机号", "personal_name": "当事人姓名", "classified": "密级标识"}
DRAFT_NO_REPORTS = "知识库里还没有法治政府建设情况报告，请先上传上一年度的报告。"
DRAFT_NO_PREVIOUS = "知识库里没有{year}年的法治政府建设情况报告，请先上传该报告再起草{next_year}年的报告。"
DRAFT_UNKNOWN_PART = "没有“{part}”这一部分，可选：{choices}。"
DEADLINE_REPORT = "向上一级报送{year}年度法治政府建设情况报告"
DEADLINE_PUBLISH = "向社会公开{year}年度法治政府建设情况报告"
# this year's figures in the draft (bot/figures.py)
DRAFT_FIGURE_FILLED = "〖{value}（来源：{source}；{previous}年：{last}；请核对）〗"
DRAFT_FILLED_SUMMARY = "已填入 {count} 处本年数值，请核对："
DRAFT_FILLED_LINE = "• {metric}：{value}（来源：{source}）"
DRAFT_METRICS_ERROR = "（指标目录有误，本年数值未自动填入：{error}）"
DRAFT_ANNEX_TITLE = "{previous}年与{year}年主要数据对照表"
DRAFT_ANNEX_LINE = "附件：{title}"
DRAFT_COMPARISON_HEADER = ["指标", "{previous}年（来源）", "{year}年（来源）", "变化"]
DRAFT_COMPARISON_VALUE = "{value}（{source}）"
DRAFT_COMPARISON_MISSING = "【待填】"

# ---- figures by year (`fazhi figures`, knowledge/metrics.toml) ------------------------------------------
FIGURES_METRIC = "指标"
FIGURES_YEAR = "{year}年"
FIGURES_YEAR_UNKNOWN = "年份不详"
FIGURES_EMPTY_CELL = "—"
FIGURES_SOURCES = "来源："
FIGURES_SOURCE_LINE = "[{n}] {source}"
FIGURES_NONE = "现有材料中没有找到符合条件的数字指标（指标及其说法见 knowledge/metrics.toml）。"
FIGURES_DATA_ERROR = "指标目录有误，请改正后再试：{error}"
FIGURE_CHANGE_UP = "增加{amount}（{percent}）"
FIGURE_CHANGE_DOWN = "减少{amount}（{percent}）"
FIGURE_CHANGE_UP_POINTS = "提高{amount}个百分点"
FIGURE_CHANGE_DOWN_POINTS = "下降{amount}个百分点"
FIGURE_CHANGE_SAME = "持平"
FIGURE_CHANGE_UNITS = "单位不同（{last}／{this}），未计算"
METRICS_UNREADABLE = "{file}: 无法读取（TOML 格式错误或不是 UTF-8）：{error}"
METRICS_EMPTY = "{file}: 没有任何 [[metric]] 指标"
METRICS_FIELD = "{where}: 缺少“{key}”或格式不对（应为非空的文字列表，name 为文字）"
METRICS_UNKNOWN_KEY = "{where}: 不认识的字段 {keys}（可用：{allowed}）"
METRICS_DUPLICATE = "{where}: 指标名重复"
METRICS_BAD_PATTERN = "{where}: 说法的正则表达式有误：{error}"

# ---- drafting in chat --------------------------------------------------------------------------
DRAFT_CHOOSE_PART = "起草 {year} 年法治政府建设情况报告。请选择要起草的部分："
DRAFT_WHOLE = "整篇报告"
DRAFT_WORKING = "正在起草“{part}”，请稍候…"
DRAFT_DOCX_CAPTION = "{title}（草稿，{part}）。黄色标记处须逐项核实填写。"
DRAFT_SAVED = "草稿已保存：{path}"
DEADLINE_REMINDER = "提醒：{label}截止日期是 {date}（还有 {days} 天）。可以用 /draft 起草报告。"

# ---- admin ---------------------------------------------------------------------------------------
ADMIN_ONLY = "抱歉，这个操作仅限管理员。"
EXPORT_CAPTION = "问答记录（{count} 条，{period}）"
EXPORT_PERIOD_ALL = "全部"
DELETE_USAGE = "用法：/delete 文件标题（与 /sources 中显示的一致）"
DELETE_DONE = "已删除：{titles}"
DELETE_NOT_FOUND = "没有找到标题为“{title}”的文件。"
UPLOAD_RETRY = "重试收录"
LLM_DRAFT_FAILED = "（{part}：大模型生成的文字未通过核查，保留模板稿。）"
LLM_DRAFT_REVIEW_SOURCES = "核对用出处："

# ---- web chat ----------------------------------------------------------------------------------
WEB_TITLE = "法治助手"
WEB_RESIDENT_INTRO = "用大白话问法律问题，我会告诉您相关的现行法律条文和可以去哪里求助。回答仅供参考，不是针对个案的法律意见。"
WEB_STAFF_TITLE = "法治助手 · 工作人员"
WEB_STAFF_INTRO = "可以询问镇里的报告和内部文件，回答注明出处（点击出处查看原文）。"
WEB_EXAMPLES = ["人民调解收费吗？", "邻居家的树倒了砸了我的车谁赔？", "老板拖欠工资怎么办？", "借钱不还可以起诉吗？",
                "父母去世没有遗嘱，遗产怎么继承？"]
WEB_STAFF_EXAMPLES = ["2024年便民服务中心一共办了多少件便民服务事项？", "人民调解员一共有多少名？",
                      "报告列了哪些存在的主要问题？"]
WEB_PLACEHOLDER = "请输入您的问题，例如：邻居家的树倒了砸了我的车谁赔？"
WEB_STAFF_PLACEHOLDER = "请输入问题，例如：2024年办了多少件便民服务事项？"
WEB_SEND = "提问"
WEB_NEW = "新话题"
WEB_THINKING = "正在查找相关法律条文…"
WEB_EMERGENCY_CALL = "拨打 {number}"
WEB_FULL_TEXT = "查看条文全文"
WEB_STREAM_FAILED = "连接中断，请重新提问。"
WEB_CSRF_FAILED = "页面已过期，请刷新页面后重试。"
WEB_NOT_FOUND = "页面不存在。"
WEB_BAD_REQUEST = "请求格式不正确，请刷新页面后重试。"
WEB_LOGIN_TITLE = "工作人员登录"
WEB_LOGIN_USERNAME = "账号"
WEB_LOGIN_PASSWORD = "密码"
WEB_LOGIN_SUBMIT = "登录"
WEB_LOGIN_FAILED = "账号或密码不正确。"
WEB_LOGIN_LOCKED = "登录失败次数过多，账号已暂时锁定，请 {minutes} 分钟后再试，或请管理员重置密码。"
WEB_LOGIN_REQUIRED = "请先登录。"
WEB_LOGOUT = "退出登录"
WEB_LOGGED_OUT = "已退出登录。"
WEB_UPLOAD_TITLE = "收录文件"
WEB_UPLOAD_HINT = "支持 .docx、.pdf、.txt、.md，最大 {limit}。"
WEB_UPLOAD_SUBMIT = "上传并收录"
WEB_UPLOAD_NO_FILE = "请选择要上传的文件。"
WEB_UPLOAD_UPLOADING = "正在上传…"
WEB_UPLOAD_INDEXING = "已上传，正在收录…"
WEB_DRAFT_TITLE = "起草 {year} 年法治政府建设情况报告"
WEB_DRAFT_DOWNLOAD = "下载 {name}"
WEB_ADMIN_TITLE = "管理"
WEB_ADMIN_EXPORT = "导出问答记录（CSV）"
WEB_ADMIN_SINCE = "起始日期"
WEB_ADMIN_UNTIL = "截止日期（不含）"
WEB_ADMIN_DOCUMENTS = "已收录的镇政府文件"
WEB_ADMIN_REMOVE = "删除"
WEB_ADMIN_REMOVE_CONFIRM = "确定删除《{title}》？"
WEB_ADMIN_QR = "普法海报二维码"
WEB_ADMIN_QR_HINT = "扫码即可向法治助手提问：{url}"
WEB_ADMIN_QR_NO_URL = "未设置 FAZHI_WEB_PUBLIC_URL，二维码暂用当前访问地址，印制海报前请设置正式的公网地址。"
WEB_BAD_DATE = "日期格式应为 2026-01-01。"
WEB_QR_SAVED = "二维码已保存：{path}（{url}）"
WEB_QR_NO_URL = "请先设置 FAZHI_WEB_PUBLIC_URL（居民访问的 https 地址）。"
WEB_STARTING = "法治助手网页版：http://{host}:{port}/ （工作人员：/staff）"
WEB_SOURCE_TITLE = "原文"
WEB_FOOTER = "12348 法律援助热线 · 紧急情况请拨打"
WEB_QR_DOWNLOAD = "下载 PNG"
WEB_QR_FILENAME = "法治助手二维码.png"
WEB_DOCUMENT_META = "{year} · {audience} · {chunks} 段"
WEB_YEAR_UNKNOWN = "不详"

# ---- staff accounts (CLI) ---------------------------------------------------------------------
USER_ADDED = "已创建账号 {username}（{role}）。"
USER_REMOVED = "已删除账号 {username}。"
USER_NOT_FOUND = "没有账号 {username}。"
USER_PASSWORD_SET = "已修改 {username} 的密码，原有登录已失效。"
USER_PASSWORD_PROMPT = "密码："
USER_PASSWORD_AGAIN = "再输入一次："
USER_PASSWORD_MISMATCH = "两次输入的密码不一致。"
USER_LINE = "{username}\t{role}\t{state}\t最近登录：{last_login}"
USER_LOCKED = "锁定中"
USER_ACTIVE = "正常"
USER_NONE = "还没有账号。用 fazhi user add 账号 --role admin 创建第一个管理员。"
ACCOUNT_EXISTS = "账号 {username} 已存在。"
ACCOUNT_BAD_NAME = "账号名不能为空、不能含空格，最长 64 个字符。"
ACCOUNT_BAD_ROLE = "角色只能是 {roles}。"
ACCOUNT_SHORT_PASSWORD = "密码至少 {chars} 个字符。"
