"""Checks the GB/T 9704-2012 layout of exported 公文 by reopening the real .docx with python-docx."""

import zipfile
from pathlib import Path

import pytest
from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_COLOR_INDEX, WD_LINE_SPACING
from docx.oxml.ns import qn
from docx.shared import Pt
from docx.text.paragraph import Paragraph
from docx.text.run import Run
from pydantic import ValidationError

from bot.gongwen import GongwenBlock, GongwenDocument, write_gongwen_docx

TITLE = "柏香镇人民政府关于2025年度法治政府建设情况的报告"
PLACEHOLDER = "【待填：2025年数值（2024年：69384件）】"
BODY = "2025年，柏香镇坚持以习近平新时代中国特色社会主义思想为指导，深入学习贯彻习近平法治思想。"
PLACEHOLDER_BODY = f"全年办理行政复议案件{PLACEHOLDER}，同比有所下降。"
HEADINGS = {
    "一、主要举措和成效": "黑体",
    "（一）深入学习贯彻习近平法治思想": "楷体_GB2312",
    "1.健全依法决策机制": "仿宋_GB2312",
    "（1）落实重大行政决策程序": "仿宋_GB2312",
}
TABLE_ROWS = [
    ["项目", "2024年", "2025年"],
    ["行政复议（件）", "69384", PLACEHOLDER],
    ["行政处罚（件）", "56", "【待填】"],
]


@pytest.fixture(scope="module")
def docx_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    blocks = [GongwenBlock(kind="para", text=BODY)]
    blocks += [GongwenBlock(kind=f"h{level}", text=text) for level, text in enumerate(HEADINGS, start=1)]
    blocks += [
        GongwenBlock(kind="para", text=PLACEHOLDER_BODY),
        GongwenBlock(kind="table", text="表1 行政执法数据", rows=TABLE_ROWS),
    ]
    doc = GongwenDocument(
        issuer_mark="柏香镇人民政府文件",
        doc_number="柏政〔2026〕【待填】号",
        signer="张三",
        title=TITLE,
        recipient="沁阳市司法局",
        blocks=blocks,
        closing_org="柏香镇人民政府",
        date_text="2026年1月15日",
        notes=["（此件为审阅稿，数据待核实）"],
    )
    path = tmp_path_factory.mktemp("gongwen") / "报告.docx"
    assert write_gongwen_docx(doc, path) == path
    return path


@pytest.fixture(scope="module")
def document(docx_path: Path) -> DocxDocument:
    return Document(str(docx_path))


def _paragraph(document: DocxDocument, startswith: str) -> Paragraph:
    return next(p for p in document.paragraphs if p.text.startswith(startswith))


def _font(run: Run, slot: str = "eastAsia") -> str | None:
    return run._r.rPr.rFonts.get(qn(f"w:{slot}"))


def test_page_is_a4_with_standard_margins(document: DocxDocument) -> None:
    section = document.sections[0]
    for length, mm in [
        (section.page_width, 210),
        (section.page_height, 297),
        (section.top_margin, 37),
        (section.bottom_margin, 35),
        (section.left_margin, 28),
        (section.right_margin, 26),
    ]:
        assert length.mm == pytest.approx(mm, abs=0.1)


def test_title_is_2hao_xiaobiaosong_centred(document: DocxDocument) -> None:
    title = _paragraph(document, TITLE)
    assert title.text == TITLE
    assert title.alignment == WD_ALIGN_PARAGRAPH.CENTER
    assert all(run.font.size == Pt(22) for run in title.runs)
    assert {_font(run) for run in title.runs} == {"方正小标宋简体"}
    assert {_font(run, "ascii") for run in title.runs} == {"方正小标宋简体"}


def test_body_is_3hao_fangsong_indented_on_fixed_lines(document: DocxDocument) -> None:
    body = _paragraph(document, BODY[:10])
    fmt = body.paragraph_format
    assert fmt.first_line_indent == Pt(32)
    assert fmt.line_spacing_rule == WD_LINE_SPACING.EXACTLY
    assert fmt.line_spacing.pt == pytest.approx(28.9, abs=0.1)
    run = body.runs[0]
    assert run.font.size == Pt(16)
    assert (_font(run), _font(run, "ascii"), _font(run, "hAnsi")) == ("仿宋_GB2312",) * 3


@pytest.mark.parametrize(("text", "font"), HEADINGS.items())
def test_heading_levels_use_their_fonts(document: DocxDocument, text: str, font: str) -> None:
    heading = _paragraph(document, text)
    assert heading.text == text
    assert {_font(run) for run in heading.runs} == {font}
    assert {run.font.size for run in heading.runs} == {Pt(16)}
    assert heading.paragraph_format.first_line_indent == Pt(32)


def test_defaults_make_unstyled_text_fangsong_3hao(document: DocxDocument) -> None:
    rpr = document.styles.element.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    fonts = rpr.find(qn("w:rFonts"))
    assert fonts.get(qn("w:eastAsia")) == fonts.get(qn("w:ascii")) == "仿宋_GB2312"
    assert fonts.get(qn("w:eastAsiaTheme")) is None  # a theme font would win over the explicit one
    assert rpr.find(qn("w:sz")).get(qn("w:val")) == "32"
    normal = document.styles["Normal"]
    assert normal.font.size == Pt(16)
    assert normal.element.rPr.rFonts.get(qn("w:eastAsia")) == "仿宋_GB2312"
    assert normal.paragraph_format.line_spacing_rule == WD_LINE_SPACING.EXACTLY


def test_page_numbers_odd_right_even_left(document: DocxDocument) -> None:
    section = document.sections[0]
    assert document.settings.odd_and_even_pages_header_footer
    assert document.settings.element.find(qn("w:evenAndOddHeaders")) is not None
    for footer, align in [
        (section.footer, WD_ALIGN_PARAGRAPH.RIGHT),
        (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT),
    ]:
        paragraph = footer.paragraphs[0]
        assert paragraph.alignment == align
        instructions = [el.text for el in paragraph._p.iter(qn("w:instrText"))]
        assert [i.strip() for i in instructions] == ["PAGE"]
        assert paragraph.text == "— 1 —"  # the cached field result sits between the em dashes
        assert {run.font.size for run in paragraph.runs} == {Pt(14)}
        assert {_font(run) for run in paragraph.runs} == {"宋体"}


def test_placeholders_survive_verbatim_and_highlighted(document: DocxDocument) -> None:
    paragraph = _paragraph(document, PLACEHOLDER_BODY[:6])
    assert paragraph.text == PLACEHOLDER_BODY
    highlighted = [run.text for run in paragraph.runs if run.font.highlight_color == WD_COLOR_INDEX.YELLOW]
    assert highlighted == [PLACEHOLDER]
    assert "柏政〔2026〕【待填】号" in _paragraph(document, "柏政").text


def test_table_has_all_rows_and_bold_header(document: DocxDocument) -> None:
    (table,) = document.tables
    assert [[cell.text for cell in row.cells] for row in table.rows] == TABLE_ROWS
    header_runs = [run for cell in table.rows[0].cells for run in cell.paragraphs[0].runs]
    assert all(run.font.bold for run in header_runs)
    body_runs = [run for cell in table.rows[1].cells for run in cell.paragraphs[0].runs]
    assert not any(run.font.bold for run in body_runs)
    assert {_font(run) for run in header_runs + body_runs} == {"仿宋_GB2312"}
    assert {run.font.size for run in body_runs} == {Pt(12)}
    assert table.rows[0]._tr.trPr.find(qn("w:tblHeader")) is not None


def test_masthead_is_red_with_signer_and_rule(document: DocxDocument) -> None:
    mark = document.paragraphs[0]
    assert mark.text == "柏香镇人民政府文件"
    assert mark.alignment == WD_ALIGN_PARAGRAPH.CENTER
    assert {str(run.font.color.rgb) for run in mark.runs} == {"FF0000"}
    number = document.paragraphs[1]
    assert number.text == "柏政〔2026〕【待填】号\t签发人：张三"
    assert _font(number.runs[-1]) == "楷体_GB2312"  # 签发人姓名 in 楷体
    rule = number._p.pPr.find(qn("w:pBdr")).find(qn("w:bottom"))
    assert rule.get(qn("w:color")) == "FF0000"


def test_closing_centres_org_over_date_and_keeps_notes(document: DocxDocument) -> None:
    texts = [p.text for p in document.paragraphs]
    assert texts[-3:] == ["柏香镇人民政府", "2026年1月15日", "（此件为审阅稿，数据待核实）"]
    org, date = document.paragraphs[-3], document.paragraphs[-2]
    assert org.alignment == date.alignment == WD_ALIGN_PARAGRAPH.RIGHT
    assert date.paragraph_format.right_indent == Pt(64)  # 右空四字
    # 7 characters over a date 6.5 characters wide: the org sits a quarter character further right.
    assert org.paragraph_format.right_indent.pt == pytest.approx(60)
    assert texts[texts.index(TITLE) + 1] == "沁阳市司法局："


def test_font_table_names_fallbacks(docx_path: Path) -> None:
    fonts = zipfile.ZipFile(docx_path).read("word/fontTable.xml").decode()
    assert '<w:font w:name="仿宋_GB2312"><w:altName w:val="仿宋"/>' in fonts
    assert '<w:font w:name="方正小标宋简体"><w:altName w:val="华文中宋"/>' in fonts


def test_minimal_document_starts_with_title(tmp_path: Path) -> None:
    doc = GongwenDocument(
        title=TITLE,
        blocks=[GongwenBlock(kind="para", text=BODY)],
        closing_org="柏香镇人民政府",
        date_text="2026年1月15日",
    )
    document = Document(str(write_gongwen_docx(doc, tmp_path / "min.docx")))
    assert [p.text for p in document.paragraphs] == [TITLE, BODY, "柏香镇人民政府", "2026年1月15日"]


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "table", "rows": []},
        {"kind": "table", "rows": [["项目", "数值"], ["只有一格"]]},
        {"kind": "para", "text": "正文", "rows": [["表格"]]},
        {"kind": "h1", "text": "  "},
        {"kind": "h5", "text": "五级标题"},
    ],
)
def test_malformed_blocks_are_rejected(fields: dict) -> None:
    with pytest.raises(ValidationError):
        GongwenBlock(**fields)


def test_doc_number_without_masthead_is_rejected() -> None:
    with pytest.raises(ValidationError, match="issuer_mark"):
        GongwenDocument(
            doc_number="柏政〔2026〕1号",
            title=TITLE,
            blocks=[],
            closing_org="镇政府",
            date_text="2026年1月15日",
        )
