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
