"""Parsing the real 2024 report: header fields, outline, and repaired extraction damage."""

from bot.loaders import load_file
from bot.report_parser import parse_official_document, repair_paragraphs

from .conftest import REPORT


def test_header_fields() -> None:
    doc = parse_official_document(REPORT.read_text(encoding="utf-8"))
    assert doc.title == "柏香镇人民政府关于2024年法治政府建设情况的报告"
    assert doc.doc_number == "柏政〔2025〕14号"
    assert doc.signer == "朱娇"
    assert doc.recipient == "沁阳市司法局"
    assert doc.issuer == "柏香镇人民政府"
    assert doc.issue_date == "2025年3月3日"
    assert doc.year == 2024


def test_outline_levels_and_paths() -> None:
    doc = parse_official_document(REPORT.read_text(encoding="utf-8"))
    assert [s.marker for s in doc.sections] == ["一、", "二、", "三、", "四、"]
    paths = {s.path: s for s in doc.all_sections()}
    assert paths["一、（二）1."].heading == "深化“放管服”改革"
    assert "69384件" in paths["一、（二）1."].text
    assert [c.heading for c in doc.sections[3].children] == [
        "持续加强法治思想学习", "提升行政执法规范化水平", "创新普法宣传方式", "完善矛盾纠纷化解机制"]
    assert len(doc.sections[1].children) == 3
    assert doc.closing and doc.closing[0].startswith("2024年，柏香镇在法治政府建设方面取得了一定成绩")


def test_extraction_artifacts_repaired() -> None:
    text = "\n".join(repair_paragraphs(REPORT.read_text(encoding="utf-8")))
    assert "统一编号、统一公布" in text
    assert "配备人民调解员210名。充分发挥" in text
    assert "充充" not in text and "。充\n" not in text
    assert "相对滞后" in text
    assert "此页无正文" not in text
    assert "培训200余人次" in text  # spaces around numbers removed


def test_report_chunks_carry_metadata() -> None:
    doc = load_file(REPORT)
    assert doc.doc_type == "report" and doc.audience == "staff" and doc.year == 2024
    chunk = next(c for c in doc.chunks if c.section_path == "一、（二）1.")
    assert chunk.cite() == "柏香镇人民政府关于2024年法治政府建设情况的报告 · 一、（二）1. 深化“放管服”改革"
    assert chunk.indexed_text.startswith("柏香镇人民政府关于2024年法治政府建设情况的报告 一、（二）1.")
    assert "优化政务服务，提升依法行政水平" in chunk.indexed_text  # parent heading in the indexed text
    assert all(c.issuer == "柏香镇人民政府" and c.source.endswith(".txt") for c in doc.chunks)
    assert len({c.chunk_id for c in doc.chunks}) == len(doc.chunks)


def test_manual_report_with_crlf_and_fullwidth_spaces() -> None:
    raw = "某镇人民政府关于2025年工作的报告\r\n\r\n县政府：\r\n\r\n一、主要工作\r\n\r\n（一）强化学习\r\n\r\n1.　组织学习。全年学习6次。\r\n"
    doc = parse_official_document(raw)
    assert doc.recipient == "县政府"
    assert doc.all_sections()[-1].path == "一、（一）1."
    assert doc.all_sections()[-1].text == "全年学习6次。"
