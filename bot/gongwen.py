"""Render a 公文 (official document) to .docx laid out per GB/T 9704-2012 《党政机关公文格式》.

Used to export drafts such as a township's 法治政府建设年度报告: clerks open the file in Word or WPS,
fill the 【待填…】 placeholders, seal it and send it, so the layout must already be what the standard asks
for (A4, 版心 156 × 225 mm, 22 lines × 28 characters, 3号仿宋 body, red 版头, "— 1 —" page numbers).

Fonts: the standard's fonts are rarely all installed, so each primary name is written to the run
(ascii, hAnsi and eastAsia, since Word picks the East Asian slot for CJK text) and fontTable.xml gets
an ``w:altName`` plus the GB2312 charset, which Word consults when it substitutes a missing font:

* 方正小标宋简体 → 华文中宋 → 宋体 (title, 发文机关标志)
* 仿宋_GB2312 → 仿宋 (body, 三级/四级标题, tables)
* 楷体_GB2312 → 楷体 (二级标题, 签发人姓名)
* 黑体 (一级标题) and 宋体 (page numbers) ship with every Chinese Windows.

The last step of each chain (宋体) is where Word lands for any GB2312-charset font it cannot find.
"""

import math
import re
import unicodedata
from pathlib import Path
from typing import Literal

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_COLOR_INDEX, WD_TAB_ALIGNMENT
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.part import XmlPart
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import qn
from docx.oxml.text.font import CT_RPr
from docx.oxml.xmlchemy import BaseOxmlElement
from docx.shared import Emu, Length, Mm, Pt, RGBColor, Twips
from docx.table import _Cell
from docx.text.paragraph import Paragraph
from docx.text.run import Run
from pydantic import BaseModel, ConfigDict, model_validator

TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋_GB2312"
HEITI_FONT = "黑体"
KAITI_FONT = "楷体_GB2312"
PAGE_NUMBER_FONT = "宋体"
FONT_ALT_NAMES: dict[str, str] = {TITLE_FONT: "华文中宋", BODY_FONT: "仿宋", KAITI_FONT: "楷体"}

SIZE_2HAO = Pt(22)
SIZE_3HAO = Pt(16)
SIZE_4HAO = Pt(14)
SIZE_XIAO4 = Pt(12)

PAGE_WIDTH, PAGE_HEIGHT = Mm(210), Mm(297)
MARGIN_TOP, MARGIN_BOTTOM, MARGIN_LEFT, MARGIN_RIGHT = Mm(37), Mm(35), Mm(28), Mm(26)
TEXT_WIDTH, TEXT_HEIGHT = Mm(156), Mm(225)
LINES_PER_PAGE, CHARS_PER_LINE = 22, 28
# 225 mm / 22 lines = 579.8 twips; rounding down keeps all 22 lines inside the 版心 (28.95 pt).
LINE_PITCH = Twips(int(TEXT_HEIGHT.twips / LINES_PER_PAGE))
# 28 glyphs of 16 pt are 448 pt but the 版心 is 442.2 pt wide, so every character is condensed by
# 0.25 pt (w:spacing counts twentieths of a point). Word's character grid (docGrid charSpace) would do
# the same in Word, but LibreOffice then gives each glyph two grid cells and prints 14 characters a line.
CHAR_SPACING = Twips(math.floor((TEXT_WIDTH.pt / CHARS_PER_LINE - SIZE_3HAO.pt) * 20))
TITLE_LINE_SPACING = Pt(35)
# 一字线 sits 7 mm below the 版心: its centre is ~3 mm above the bottom of the single-spaced footer line.
FOOTER_DISTANCE = Mm(25)
RED = RGBColor(0xFF, 0x00, 0x00)

# 【待填…】 placeholders, and 〖…〗 values filled in from this year's material, which the clerk must check.
_PLACEHOLDER = re.compile(r"(【[^【】]*】|〖[^〖〗]*〗)")
_HEADING_FONTS: dict[str, str] = {"h1": HEITI_FONT, "h2": KAITI_FONT, "h3": BODY_FONT, "h4": BODY_FONT}
_PPR_ORDER = (
    "w:pStyle", "w:keepNext", "w:keepLines", "w:pageBreakBefore", "w:framePr", "w:widowControl",
    "w:numPr", "w:suppressLineNumbers", "w:pBdr", "w:shd", "w:tabs", "w:suppressAutoHyphens",
    "w:kinsoku", "w:wordWrap", "w:overflowPunct", "w:topLinePunct", "w:autoSpaceDE", "w:autoSpaceDN",
    "w:bidi", "w:adjustRightInd", "w:snapToGrid", "w:spacing", "w:ind", "w:contextualSpacing",
    "w:mirrorIndents", "w:suppressOverlap", "w:jc", "w:textDirection", "w:textAlignment",
    "w:textboxTightWrap", "w:outlineLvl", "w:divId", "w:cnfStyle", "w:rPr", "w:sectPr", "w:pPrChange",
)  # fmt: skip


class GongwenBlock(BaseModel):
    """One unit of the 正文: a heading level, a body paragraph, or a table.

    Heading text carries its own 序号 (一、 （一） 1. （1）) because drafts arrive already numbered.
    For a table, ``rows[0]`` is the header row and ``text`` is an optional caption (表题).
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["h1", "h2", "h3", "h4", "para", "table"]
    text: str = ""
    rows: list[list[str]] = []

    @model_validator(mode="after")
    def _check_shape(self) -> "GongwenBlock":
        """Reject malformed blocks here rather than emit a table whose columns silently shift."""
        if self.kind == "table":
            if not self.rows or not self.rows[0]:
                raise ValueError("a table block needs at least a header row")
            if any(len(row) != len(self.rows[0]) for row in self.rows):
                raise ValueError("every table row must have as many cells as the header row")
        else:
            if self.rows:
                raise ValueError(f"a {self.kind} block takes text, not rows")
            if not self.text.strip():
                raise ValueError(f"a {self.kind} block needs text")
        return self


class GongwenAnnex(BaseModel):
    """An attachment (附件): named under the 正文, printed after the 落款 on a page of its own."""

    model_config = ConfigDict(frozen=True)

    title: str
    blocks: list[GongwenBlock]


class GongwenDocument(BaseModel):
    """Everything printed on a 公文, in reading order; optional parts are simply left out.

    ``notes`` are printed verbatim under the 成文日期, indented two characters, as 附注 are
    (pass the parentheses yourself, e.g. "（此件为审阅稿，数据待核实）").
    """

    model_config = ConfigDict(frozen=True)

    issuer_mark: str | None = None
    doc_number: str | None = None
    signer: str | None = None
    title: str
    recipient: str | None = None
    blocks: list[GongwenBlock]
    closing_org: str
    date_text: str
    notes: list[str] = []
    annexes: list[GongwenAnnex] = []

    @model_validator(mode="after")
    def _check_masthead(self) -> "GongwenDocument":
        """文号 and 签发人 live in the 版头 under the 发文机关标志; without one they would be dropped."""
        if (self.doc_number or self.signer) and not self.issuer_mark:
            raise ValueError("doc_number and signer are printed in the 版头 and need issuer_mark")
        return self


def write_gongwen_docx(doc: GongwenDocument, path: Path) -> Path:
    """Write ``doc`` to ``path`` as a GB/T 9704-2012 .docx and return ``path``."""
    document = Document()
    _setup_page(document)
    _setup_defaults(document)
    _register_font_alt_names(document)
    _add_page_numbers(document)
    document.core_properties.title = doc.title
    document.core_properties.language = "zh-CN"

    if doc.issuer_mark:
        _add_masthead(document, doc.issuer_mark, doc.doc_number, doc.signer)
    title = _add_paragraph(document, doc.title, TITLE_FONT, SIZE_2HAO, WD_ALIGN_PARAGRAPH.CENTER)
    title.paragraph_format.line_spacing = TITLE_LINE_SPACING
    title.paragraph_format.keep_with_next = True
    if doc.issuer_mark:  # 红色分隔线下空二行
        title.paragraph_format.space_before = Twips(2 * LINE_PITCH.twips)
    if doc.recipient:
        colon = "" if doc.recipient.endswith(("：", ":")) else "："
        recipient = _add_paragraph(document, doc.recipient + colon, BODY_FONT, SIZE_3HAO)
        recipient.paragraph_format.space_before = LINE_PITCH  # 标题下空一行

    for block in doc.blocks:
        _add_block(document, block)
    if doc.blocks[-1:] and doc.blocks[-1].kind != "table":
        # A 落款 alone on the last page is a classic 公文 error; pull the last paragraph along with it.
        document.paragraphs[-1].paragraph_format.keep_with_next = True
    _add_annex_list(document, doc.annexes)
    _add_closing(document, doc)
    for number, annex in enumerate(doc.annexes, start=1):
        _add_annex(document, annex, number if len(doc.annexes) > 1 else None)

    document.save(str(path))
    return path


def _setup_page(document: DocxDocument) -> None:
    """A4 with the standard's margins and odd/even footers."""
    section = document.sections[0]
    section.page_width, section.page_height = PAGE_WIDTH, PAGE_HEIGHT
    section.top_margin, section.bottom_margin = MARGIN_TOP, MARGIN_BOTTOM
    section.left_margin, section.right_margin = MARGIN_LEFT, MARGIN_RIGHT
    section.footer_distance = FOOTER_DISTANCE
    document.settings.odd_and_even_pages_header_footer = True


def _setup_defaults(document: DocxDocument) -> None:
    """Make unstyled text (anything a clerk types later) 3号仿宋 on the fixed 28.95 pt line."""
    doc_defaults = document.styles.element.find(qn("w:docDefaults"))
    rpr = doc_defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    _set_fonts(rpr, BODY_FONT)
    rpr.find(qn("w:sz")).set(qn("w:val"), str(int(SIZE_3HAO.pt * 2)))
    rpr.find(qn("w:szCs")).set(qn("w:val"), str(int(SIZE_3HAO.pt * 2)))
    rpr.find(qn("w:lang")).set(qn("w:eastAsia"), "zh-CN")
    rpr.find(qn("w:sz")).addprevious(OxmlElement("w:spacing", {qn("w:val"): str(CHAR_SPACING.twips)}))
    spacing = doc_defaults.find(qn("w:pPrDefault")).find(qn("w:pPr")).find(qn("w:spacing"))
    spacing.set(qn("w:after"), "0")
    spacing.set(qn("w:line"), str(LINE_PITCH.twips))
    spacing.set(qn("w:lineRule"), "exact")

    normal = document.styles["Normal"]
    _set_fonts(normal.element.get_or_add_rPr(), BODY_FONT)
    normal.font.size = SIZE_3HAO
    normal.paragraph_format.line_spacing = LINE_PITCH
    normal.paragraph_format.space_before = normal.paragraph_format.space_after = Pt(0)
    normal.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY


def _register_font_alt_names(document: DocxDocument) -> None:
    """Add fontTable entries so Word/WPS substitute 仿宋 for a missing 仿宋_GB2312 and so on."""
    main = document.part
    for r_id, rel in list(main.rels.items()):
        if rel.reltype != RT.FONT_TABLE:
            continue
        fonts = parse_xml(rel.target_part.blob)
        for name, alt_name in FONT_ALT_NAMES.items():
            font = OxmlElement("w:font", {qn("w:name"): name})
            font.append(OxmlElement("w:altName", {qn("w:val"): alt_name}))
            font.append(OxmlElement("w:charset", {qn("w:val"): "86"}))  # GB2312
            fonts.append(font)
        table = XmlPart(rel.target_part.partname, rel.target_part.content_type, fonts, main.package)
        main.drop_rel(r_id)
        main.relate_to(table, RT.FONT_TABLE)


def _add_page_numbers(document: DocxDocument) -> None:
    """Page numbers "— 1 —" in 4号宋体: odd pages right, even pages left, one character in."""
    section = document.sections[0]
    for footer, align in (
        (section.footer, WD_ALIGN_PARAGRAPH.RIGHT),
        (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT),
    ):
        paragraph = footer.paragraphs[0]
        fmt = paragraph.paragraph_format
        fmt.alignment = align
        fmt.line_spacing = 1.0
        if align == WD_ALIGN_PARAGRAPH.RIGHT:
            fmt.right_indent = SIZE_4HAO
        else:
            fmt.left_indent = SIZE_4HAO
        _add_run(paragraph, "— ", PAGE_NUMBER_FONT, SIZE_4HAO)
        for field_part in (_fld_char("begin"), _instr_text(" PAGE "), _fld_char("separate")):
            _add_run(paragraph, "", PAGE_NUMBER_FONT, SIZE_4HAO)._r.append(field_part)
        _add_run(paragraph, "1", PAGE_NUMBER_FONT, SIZE_4HAO)
        _add_run(paragraph, "", PAGE_NUMBER_FONT, SIZE_4HAO)._r.append(_fld_char("end"))
        _add_run(paragraph, " —", PAGE_NUMBER_FONT, SIZE_4HAO)


def _add_masthead(
    document: DocxDocument, issuer_mark: str, doc_number: str | None, signer: str | None
) -> None:
    """版头: red 发文机关标志 35 mm below the 版心 top, 发文字号 (and 签发人) two lines lower, red rule."""
    # The 1999 edition capped each character at 15 mm wide (≈42 pt); shrink long names to the 版心.
    size = Pt(min(42, int(TEXT_WIDTH.pt / len(issuer_mark))))
    mark = _add_paragraph(document, issuer_mark, TITLE_FONT, size, WD_ALIGN_PARAGRAPH.CENTER, color=RED)
    mark.paragraph_format.space_before = Mm(35)
    mark.paragraph_format.line_spacing = 1.0

    if signer:  # 上行文: 文号居左空一字, 签发人居右空一字 on the same line
        text = (doc_number or "") + "\t签发人："
        line = _add_paragraph(document, text, BODY_FONT, SIZE_3HAO, WD_ALIGN_PARAGRAPH.LEFT)
        line.paragraph_format.first_line_indent = _chars(1)
        line.paragraph_format.tab_stops.add_tab_stop(Emu(TEXT_WIDTH - _chars(1)), WD_TAB_ALIGNMENT.RIGHT)
        _add_run(line, signer, KAITI_FONT, SIZE_3HAO)
    else:
        line = _add_paragraph(document, doc_number or "", BODY_FONT, SIZE_3HAO, WD_ALIGN_PARAGRAPH.CENTER)
    line.paragraph_format.space_before = Twips(2 * LINE_PITCH.twips)
    rule = {qn("w:val"): "single", qn("w:sz"): "12", qn("w:space"): "6", qn("w:color"): str(RED)}
    _add_ppr_child(line, "w:pBdr").append(OxmlElement("w:bottom", rule))


def _add_block(document: DocxDocument, block: GongwenBlock) -> None:
    """Headings and body paragraphs share the body layout; only the font (and outline level) differ."""
    if block.kind == "table":
        _add_table(document, block)
        return
    font = _HEADING_FONTS.get(block.kind, BODY_FONT)
    paragraph = _add_paragraph(document, block.text, font, SIZE_3HAO)
    paragraph.paragraph_format.first_line_indent = _chars(2)
    if block.kind != "para":
        paragraph.paragraph_format.keep_with_next = True
        # Gives Word's navigation pane the report's outline without the blue built-in heading styles.
        _add_ppr_child(paragraph, "w:outlineLvl", {qn("w:val"): str(int(block.kind[1]) - 1)})


def _add_table(document: DocxDocument, block: GongwenBlock) -> None:
    """Full-width grid in 小四仿宋, single-spaced; the bold header row repeats on every page."""
    if block.text:
        caption = _add_paragraph(document, block.text, BODY_FONT, SIZE_3HAO, WD_ALIGN_PARAGRAPH.CENTER)
        caption.paragraph_format.keep_with_next = True
    table = document.add_table(rows=len(block.rows), cols=len(block.rows[0]))
    table.style = document.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.rows[0]._tr.get_or_add_trPr().append(OxmlElement("w:tblHeader"))
    for row_index, (row, values) in enumerate(zip(table.rows, block.rows, strict=True)):
        for cell, value in zip(row.cells, values, strict=True):
            _fill_cell(cell, value, header=row_index == 0)


def _fill_cell(cell: _Cell, value: str, *, header: bool) -> None:
    cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    paragraph = cell.paragraphs[0]
    fmt = paragraph.paragraph_format
    fmt.line_spacing = 1.0
    fmt.alignment = WD_ALIGN_PARAGRAPH.CENTER if header else WD_ALIGN_PARAGRAPH.LEFT
    _add_text(paragraph, value, BODY_FONT, SIZE_XIAO4, bold=header)


def _add_closing(document: DocxDocument, doc: GongwenDocument) -> None:
    """落款 for a sealed document: 成文日期右空四字, 发文机关署名 centred over the date, 附注 below."""
    date_indent = _chars(4)
    offset = (_width_in_chars(doc.date_text) - _width_in_chars(doc.closing_org)) / 2
    org_indent = _chars(max(0.0, 4 + offset))
    org = _add_paragraph(document, doc.closing_org, BODY_FONT, SIZE_3HAO, WD_ALIGN_PARAGRAPH.RIGHT)
    org.paragraph_format.space_before = LINE_PITCH  # 正文下空一行
    org.paragraph_format.right_indent = org_indent
    org.paragraph_format.keep_with_next = True
    date = _add_paragraph(document, doc.date_text, BODY_FONT, SIZE_3HAO, WD_ALIGN_PARAGRAPH.RIGHT)
    date.paragraph_format.right_indent = date_indent
    for note in doc.notes:
        paragraph = _add_paragraph(document, note, BODY_FONT, SIZE_3HAO, WD_ALIGN_PARAGRAPH.LEFT)
        paragraph.paragraph_format.first_line_indent = _chars(2)


def _add_annex_list(document: DocxDocument, annexes: list[GongwenAnnex]) -> None:
    """附件说明: under the 正文 after one empty line, two characters in, "附件：" then the names (numbered
    when there are several, aligned under the first)."""
    for number, annex in enumerate(annexes, start=1):
        name = f"{number}.{annex.title}" if len(annexes) > 1 else annex.title
        paragraph = _add_paragraph(document, ("附件：" if number == 1 else "") + name, BODY_FONT, SIZE_3HAO)
        paragraph.paragraph_format.first_line_indent = _chars(2 if number == 1 else 5)
        paragraph.paragraph_format.keep_with_next = True
        if number == 1:
            paragraph.paragraph_format.space_before = LINE_PITCH


def _add_annex(document: DocxDocument, annex: GongwenAnnex, number: int | None) -> None:
    """附件 on a new page: "附件" (3号黑体) at the top left, the title centred below it, then the blocks."""
    mark = _add_paragraph(document, f"附件{number or ''}", HEITI_FONT, SIZE_3HAO, WD_ALIGN_PARAGRAPH.LEFT)
    mark.paragraph_format.page_break_before = True
    mark.paragraph_format.keep_with_next = True
    title = _add_paragraph(document, annex.title, TITLE_FONT, SIZE_2HAO, WD_ALIGN_PARAGRAPH.CENTER)
    title.paragraph_format.line_spacing = TITLE_LINE_SPACING
    title.paragraph_format.space_before = LINE_PITCH
    title.paragraph_format.keep_with_next = True
    for block in annex.blocks:
        _add_block(document, block)


def _chars(count: float) -> Length:
    """``count`` × 一字, the standard's horizontal unit: the width of one 3号 character."""
    return Pt(count * SIZE_3HAO.pt)


def _width_in_chars(text: str) -> float:
    """Printed width in 一字 units: CJK/full-width characters count 1, digits and Latin letters ½."""
    return sum(1.0 if unicodedata.east_asian_width(ch) in "FW" else 0.5 for ch in text)


def _add_paragraph(
    document: DocxDocument,
    text: str,
    font: str,
    size: Length,
    align: WD_ALIGN_PARAGRAPH = WD_ALIGN_PARAGRAPH.JUSTIFY,
    *,
    color: RGBColor | None = None,
) -> Paragraph:
    """A paragraph on the 28.95 pt line with explicit formatting, so it survives pasting elsewhere."""
    paragraph = document.add_paragraph()
    fmt = paragraph.paragraph_format
    fmt.alignment = align
    fmt.line_spacing = LINE_PITCH
    fmt.space_before = fmt.space_after = Pt(0)
    _add_text(paragraph, text, font, size, color=color)
    return paragraph


def _add_text(
    paragraph: Paragraph,
    text: str,
    font: str,
    size: Length,
    *,
    bold: bool = False,
    color: RGBColor | None = None,
) -> None:
    """Add ``text`` verbatim, highlighting each 【…】 placeholder (and 〖…〗 filled value) yellow so clerks
    cannot miss it."""
    for piece in _PLACEHOLDER.split(text):
        if not piece:
            continue
        run = _add_run(paragraph, piece, font, size, bold=bold, color=color)
        if _PLACEHOLDER.fullmatch(piece):
            run.font.highlight_color = WD_COLOR_INDEX.YELLOW


def _add_run(
    paragraph: Paragraph,
    text: str,
    font: str,
    size: Length,
    *,
    bold: bool = False,
    color: RGBColor | None = None,
) -> Run:
    run = paragraph.add_run(text)
    run.font.size = size
    run.font.bold = bold or None
    if color is not None:
        run.font.color.rgb = color
    _set_fonts(run._r.get_or_add_rPr(), font)
    return run


def _set_fonts(rpr: CT_RPr, font: str) -> None:
    """Name ``font`` in every rFonts slot and drop theme references, which would override it."""
    fonts = rpr.get_or_add_rFonts()
    for attr in ("asciiTheme", "hAnsiTheme", "eastAsiaTheme", "cstheme"):
        fonts.attrib.pop(qn(f"w:{attr}"), None)
    for attr in ("ascii", "hAnsi", "eastAsia", "cs"):
        fonts.set(qn(f"w:{attr}"), font)


def _add_ppr_child(paragraph: Paragraph, tag: str, attrs: dict[str, str] | None = None) -> BaseOxmlElement:
    """Add a pPr child python-docx has no API for, in schema order (Word rejects misordered pPr)."""
    child = OxmlElement(tag, attrs)
    paragraph._p.get_or_add_pPr().insert_element_before(child, *_PPR_ORDER[_PPR_ORDER.index(tag) + 1 :])
    return child


def _fld_char(kind: str) -> BaseOxmlElement:
    return OxmlElement("w:fldChar", {qn("w:fldCharType"): kind})


def _instr_text(instruction: str) -> BaseOxmlElement:
    element = OxmlElement("w:instrText", {qn("xml:space"): "preserve"})
    element.text = instruction
    return element
