"""Parse an official document (公文) such as the annual 法治政府建设 report into header fields and an outline.

Real input is text extracted from a printed document, so extraction damage is repaired first:
a word split across a page break (统一编 / 号), a character repeated at a page join (充 / 充分发挥),
and `(此页无正文)` lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .numerals import CN_NUMERAL

_TERMINAL = "。！？；：…”’」』）)"
_NO_BODY = re.compile(r"^[（(]此页无正文[）)]$")
DOC_NUMBER = re.compile(r"[\u4e00-\u9fa5]{1,12}[〔\[［(（]\d{4}[〕\]］)）]\d+号")
_SIGNER = re.compile(r"^签发人[:：]\s*(\S+)")
_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_PRINTED = re.compile(r"^(\d{4}年\d{1,2}月\d{1,2}日)印发?$")

# Outline markers, outermost first: 一、  （一）  1.  （1）
_LEVELS = [
    re.compile(rf"^({CN_NUMERAL})\s*、\s*"),
    re.compile(rf"^[（(]\s*({CN_NUMERAL})\s*[）)]\s*"),
    re.compile(r"^(\d{1,2})\s*[.．、]\s*(?!\d)"),
    re.compile(r"^[（(]\s*(\d{1,2})\s*[）)]\s*"),
]
_MARKER_FORMAT = ["{}、", "（{}）", "{}.", "（{}）"]
_CJK = r"\u4e00-\u9fa5"
_TITLE_END = re.compile(r"关于.{2,60}(报告|通知|意见|请示|决定|函|批复|方案|办法|规定|总结)$")


@dataclass
class ReportSection:
    """One outline node: `一、`, `（二）`, `1.` or `（1）` with its heading and body paragraphs."""

    level: int
    marker: str
    heading: str
    paragraphs: list[str] = field(default_factory=list)
    children: list[ReportSection] = field(default_factory=list)
    path: str = ""

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()

    @property
    def text(self) -> str:
        return "\n".join(self.paragraphs)


@dataclass
class OfficialDocument:
    """Header fields and outline of a 公文."""

    title: str
    issuer_mark: str = ""
    doc_number: str = ""
    signer: str = ""
    recipient: str = ""
    issuer: str = ""
    issue_date: str = ""
    printed_by: str = ""
    preamble: list[str] = field(default_factory=list)
    sections: list[ReportSection] = field(default_factory=list)
    closing: list[str] = field(default_factory=list)

    @property
    def year(self) -> int:
        """The year the report is about (关于2024年…), else the year it was issued."""
        m = re.search(r"(\d{4})\s*年", self.title) or _DATE.search(self.issue_date)
        return int(m.group(1)) if m else 0

    def all_sections(self) -> list[ReportSection]:
        return [s for top in self.sections for s in top.walk()]

    def info_line(self) -> str:
        parts = [
            f"标题：{self.title}",
            f"文号：{self.doc_number}" if self.doc_number else "",
            f"签发人：{self.signer}" if self.signer else "",
            f"主送：{self.recipient}" if self.recipient else "",
            f"印发机关：{self.printed_by}" if self.printed_by else "",
            f"印发日期：{self.issue_date}" if self.issue_date else "",
        ]
        return "；".join(p for p in parts if p) + "。"


def _normalise_line(line: str) -> str:
    line = line.replace("\u3000", " ").replace("\xa0", " ").strip()
    # Extraction puts spaces around numbers (培训 200 余人次); Chinese prose has none.
    line = re.sub(rf"(?<=[{_CJK}，。、；：])\s+(?=[\d])", "", line)
    line = re.sub(rf"(?<=[\d%])\s+(?=[{_CJK}，。、；：])", "", line)
    return line


def outline_level(line: str) -> tuple[int, str, str] | None:
    """Return (level, number, rest) when the line opens an outline item."""
    for level, pattern in enumerate(_LEVELS):
        m = pattern.match(line)
        if m and len(line) > m.end():
            return level, m.group(1), line[m.end():]
    return None


def repair_paragraphs(raw: str) -> list[str]:
    """Join paragraphs broken by page breaks and drop the duplicated character at a page join."""
    lines = [_normalise_line(x) for x in raw.splitlines()]
    paragraphs: list[str] = []
    for line in lines:
        if not line or _NO_BODY.match(line):
            continue
        if paragraphs and _continues(paragraphs[-1], line):
            prev = paragraphs[-1]
            tail = prev[max(prev.rfind(c) for c in _TERMINAL) + 1:] if any(c in prev for c in _TERMINAL) else ""
            if tail and line.startswith(tail):
                prev = prev[: len(prev) - len(tail)]
            paragraphs[-1] = prev + line
        else:
            paragraphs.append(line)
    return paragraphs


def _continues(prev: str, line: str) -> bool:
    """A line continues the previous paragraph when that one stopped mid-sentence."""
    if outline_level(line) or prev.endswith(tuple(_TERMINAL)):
        return False
    if len(prev) < 25 or len(line) <= 30 and line.endswith(("：", ":")):
        return False  # header lines and the 主送 line stand alone
    # a title, or a sign-off date, also stands alone
    return not (_TITLE_END.search(prev) or _DATE.search(line) and len(line) < 20)


def _split_heading(rest: str, level: int) -> tuple[str, str]:
    """`强化法治建设领导机制。成立…` → heading and body; a line that is only a heading has no body."""
    m = re.match(r"^(.{2,40}?)[。：:]\s*(.+)$", rest)
    if level >= 2 and m:
        return m.group(1), m.group(2)
    if len(rest) <= 40 and not rest.endswith("。"):
        return rest, ""
    return "", rest


def parse_official_document(raw: str, fallback_title: str = "") -> OfficialDocument:
    """Read header, outline and sign-off of an official document from extracted text."""
    paragraphs = repair_paragraphs(raw)
    doc = OfficialDocument(title=fallback_title)
    body_start = _parse_header(paragraphs, doc)
    stack: list[ReportSection] = []
    for para in paragraphs[body_start:]:
        if _parse_footer_line(para, doc):
            continue
        hit = outline_level(para)
        if hit:
            level, number, rest = hit
            heading, body = _split_heading(rest, level)
            section = ReportSection(level=level, marker=_MARKER_FORMAT[level].format(number), heading=heading)
            if body:
                section.paragraphs.append(body)
            while stack and stack[-1].level >= level:
                stack.pop()
            parent_path = stack[-1].path if stack else ""
            section.path = parent_path + section.marker
            (stack[-1].children if stack else doc.sections).append(section)
            stack.append(section)
        elif stack:
            stack[-1].paragraphs.append(para)
        else:
            doc.preamble.append(para)
    _split_closing(doc)
    if doc.issuer_mark:
        doc.issuer = doc.issuer_mark.removesuffix("文件")
    return doc


def _parse_header(paragraphs: list[str], doc: OfficialDocument) -> int:
    """Consume the header block (机关标志, 文号, 签发人, 标题, 主送) and return where the body starts."""
    for i, para in enumerate(paragraphs[:12]):
        if outline_level(para):
            return i
        if DOC_NUMBER.fullmatch(para.replace(" ", "")):
            doc.doc_number = para.replace(" ", "")
        elif m := _SIGNER.match(para):
            doc.signer = m.group(1)
        elif para.endswith("文件") and len(para) <= 20:
            doc.issuer_mark = para
        elif para.endswith(("：", ":")) and len(para) <= 30:
            doc.recipient = para[:-1]
            return i + 1
        elif "关于" in para and len(para) <= 60 and not para.endswith("。"):
            doc.title = para
    return 0


def _parse_footer_line(para: str, doc: OfficialDocument) -> bool:
    """Sign-off lines: issuing office, date, `2025年3月3日印`."""
    if m := _PRINTED.match(para.replace(" ", "")):
        doc.issue_date = m.group(1)
        return True
    if _DATE.fullmatch(para.replace(" ", "")):
        doc.issue_date = para.replace(" ", "")
        return True
    if len(para) <= 20 and para.endswith(("政府", "办公室", "委员会", "党委", "局", "中心")) and "。" not in para:
        doc.printed_by = para
        doc.issuer = doc.issuer or para
        return True
    return False


def _split_closing(doc: OfficialDocument) -> None:
    """The concluding paragraph after the last outline item belongs to the whole report, not that item."""
    if not doc.sections:
        return
    last = doc.sections[-1]
    while last.children:
        last = last.children[-1]
    if len(last.paragraphs) > 1 and re.search(r"今后|下一步|总之|综上", last.paragraphs[-1]):
        doc.closing.append(last.paragraphs.pop())
