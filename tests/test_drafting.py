"""Drafting the 2025 法治政府建设 report from the real 2024 report and real uploaded 2025 documents."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from docx import Document

from bot.assistant import Assistant
from bot.drafting import (
    Draft,
    DraftError,
    annual_reports,
    build_draft,
    figures,
    find_previous_report,
    next_deadlines,
    render_text,
    template,
    text_from_chunks,
    write_docx,
)
from bot.report_parser import parse_official_document
from bot.sensitivity import is_valid_id_card, scan

from .conftest import REPORT, make_assistant

PLAN_ITEMS = ["持续加强法治思想学习", "提升行政执法规范化水平", "创新普法宣传方式", "完善矛盾纠纷化解机制"]
PROBLEMS = ["法治意识有待进一步提高", "行政执法水平有待提升", "普法宣传效果有待增强"]
FIGURES_2024 = ["69384件", "99%", "200余人次", "37名", "63个", "210名", "171批次", "193人次", "55件", "6篇"]
ID_NUMBER = "41088219900101104X"  # valid GB 11643 checksum, which is X here
MOBILE = "13912345678"
PUFA_2025 = """柏香镇2025年普法工作总结

2025年，柏香镇深入实施“八五”普法规划，创新普法宣传方式，增强普法宣传的吸引力和实效性。

一、新媒体普法

镇司法所制作普法短视频12部，在微信公众号推送法律知识文章48篇，开展线上法律知识竞赛1次，参与群众2300人次。

二、法治文化阵地建设

建成法治文化广场1处，打造“柏香说法”法治文化品牌，营造浓厚的法治氛围。
"""
TIAOJIE_2025 = f"""柏香镇2025年矛盾纠纷调解工作台账

一、总体情况

2025年，镇人民调解委员会加强人民调解、行政调解、司法调解的衔接配合，共排查化解矛盾纠纷58件，调解成功56件。

二、典型案例

当事人张某某因宅基地纠纷申请调解，联系电话{MOBILE}，身份证号{ID_NUMBER}。经调解员耐心工作，双方达成调解协议。
"""


def placeholder(value: str) -> str:
    return f"【待填：2025年数值（2024年：{value}）】"


def part_text(draft: Draft, key: str) -> str:
    part = next(p for p in draft.parts if p.key == key)
    return "\n".join(b.text for b in part.blocks)


def under_heading(draft: Draft, key: str, heading: str) -> list[str]:
    """Texts of the blocks between an h2 heading and the next one."""
    blocks = next(p for p in draft.parts if p.key == key).blocks
    start = next(i for i, b in enumerate(blocks) if b.kind == "h2" and b.text.endswith(heading))
    end = next((i for i, b in enumerate(blocks) if i > start and b.kind in ("h1", "h2")), len(blocks))
    return [b.text for b in blocks[start + 1:end]]


@pytest.fixture(scope="module")
def skeleton(built_data_dir: Path) -> Draft:
    """The 2025 draft with nothing uploaded for 2025 yet: only the 2024 report to go on."""
    assistant = make_assistant(built_data_dir)
    return build_draft(assistant.index, assistant.retriever)


@pytest.fixture(scope="module")
def with_evidence(built_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Assistant, Draft]:
    """A copy of the index with two real 2025 documents uploaded by staff: 普法 and 调解 (with personal data)."""
    data_dir = tmp_path_factory.mktemp("draft") / "data"
    shutil.copytree(built_data_dir, data_dir)
    uploads = tmp_path_factory.mktemp("uploads")
    files = [uploads / "柏香镇2025年普法工作总结.txt", uploads / "柏香镇2025年矛盾纠纷调解工作台账.txt"]
    for file, text in zip(files, (PUFA_2025, TIAOJIE_2025), strict=True):
        file.write_text(text, encoding="utf-8")
    assistant = make_assistant(data_dir)
    report = assistant.ingest(files, "staff")
    assert [d.year for d in report.added] == [2025, 2025]
    return assistant, build_draft(assistant.index, assistant.retriever)


def test_results_headings_are_last_years_plan_items(skeleton: Draft) -> None:
    assert skeleton.year == 2025
    results = skeleton.parts[0]
    assert results.key == "results" and results.title == "一、2025年法治政府建设主要工作及成效"
    headings = [b.text for b in results.blocks if b.kind == "h2"]
    assert headings[:4] == [f"（{n}）{item}" for n, item in zip("一二三四", PLAN_ITEMS, strict=True)]
    assert headings[4:] == ["（五）其他工作"]  # last year's results no plan item carried on, e.g. 放管服
    assert [p.key for p in skeleton.parts] == ["results", "problems", "leaders", "plans", "other"]


def test_placeholders_carry_last_years_figures_in_last_years_wording(skeleton: Draft) -> None:
    text = "\n".join(render_text(skeleton))
    for value in FIGURES_2024:
        assert placeholder(value) in text, value
    assert f"全年累计办理各类便民服务事项{placeholder('69384件')}，群众满意度达到{placeholder('99%')}。" in text
    # each 2024 results subsection's figures sit under the plan item it carried out
    assert any(placeholder("210名") in t for t in under_heading(skeleton, "results", "完善矛盾纠纷化解机制"))
    assert any(placeholder("37名") in t for t in under_heading(skeleton, "results", "提升行政执法规范化水平"))
    assert any(placeholder("69384件") in t for t in under_heading(skeleton, "results", "其他工作"))
    assert "2024年，柏香镇" not in text and skeleton.preamble[0].startswith("2025年，在市委、市政府的正确领导下")


def test_leaders_part_keeps_last_years_structure(skeleton: Draft) -> None:
    leaders = next(p for p in skeleton.parts if p.key == "leaders")
    assert leaders.title == "三、党政主要负责人履行推进法治建设第一责任人职责情况"
    assert [b.text for b in leaders.blocks if b.kind == "h2"] == ["（一）带头学法用法", "（二）重视法治建设工作",
                                                                  "（三）推动依法行政"]
    assert f"全年累计参加集中学法{placeholder('12次')}，撰写学习心得{placeholder('6篇')}。" in part_text(skeleton, "leaders")


def test_problems_become_a_checklist(skeleton: Draft) -> None:
    text = part_text(skeleton, "problems")
    assert text.startswith("二、存在的主要问题及原因")
    headings = [b.text for b in skeleton.parts[1].blocks if b.kind == "h2"]
    assert headings == [f"（{n}）{p}" for n, p in zip("一二三", PROBLEMS, strict=True)]
    assert text.count("是否已解决？【待填】") == 3
    assert "【待填：2025年存在的主要问题及原因】" in text


def test_plans_and_header_are_placeholders(skeleton: Draft) -> None:
    plans = part_text(skeleton, "plans")
    assert plans.startswith("四、2026年法治政府建设工作计划")
    assert plans.count("【待填：2026年工作计划】") == 4
    assert all(f"“{item}”" in plans for item in PLAN_ITEMS)
    assert skeleton.title == "柏香镇人民政府关于2025年法治政府建设情况的报告"
    assert skeleton.doc_number == "柏政〔2026〕【待填】号"
    assert skeleton.recipient == "沁阳市司法局" and skeleton.issuer == "柏香镇人民政府"
    assert skeleton.signer == "【待填】" and skeleton.date_text == "2026年【待填】月【待填】日"


def test_without_2025_documents_every_item_lacks_evidence(skeleton: Draft) -> None:
    assert [(r.item, r.label) for r in skeleton.crosscheck] == [(item, "未见材料") for item in PLAN_ITEMS]
    for item in PLAN_ITEMS:
        assert "【未找到2025年相关材料】" in under_heading(skeleton, "results", item)
    assert skeleton.sources == [] and skeleton.warnings == []


def test_uploaded_evidence_lands_under_its_heading(with_evidence: tuple[Assistant, Draft]) -> None:
    _, draft = with_evidence
    pufa = under_heading(draft, "results", "创新普法宣传方式")
    assert any("普法短视频12部" in t and "（来源：柏香镇2025年普法工作总结 · 一、 新媒体普法）" in t for t in pufa)
    tiaojie = under_heading(draft, "results", "完善矛盾纠纷化解机制")
    assert any(t.startswith("2025年材料：") and "柏香镇2025年矛盾纠纷调解工作台账" in t for t in tiaojie)
    for item in ("持续加强法治思想学习", "提升行政执法规范化水平"):
        texts = under_heading(draft, "results", item)
        assert "【未找到2025年相关材料】" in texts and not any("来源：" in t for t in texts)
    assert any("普法工作总结" in t for t in under_heading(draft, "problems", "普法宣传效果有待增强"))
    assert draft.sources == ["柏香镇2025年普法工作总结", "柏香镇2025年矛盾纠纷调解工作台账"]
    assert draft.evidence["创新普法宣传方式"][0].chunk.title == "柏香镇2025年普法工作总结"  # for the LLM prose
    assert "提升行政执法规范化水平" not in draft.evidence


def test_crosscheck_marks_covered_and_uncovered_items(with_evidence: tuple[Assistant, Draft]) -> None:
    _, draft = with_evidence
    rows = {row.item: row for row in draft.crosscheck}
    assert rows["创新普法宣传方式"].label == "已落实"
    assert rows["创新普法宣传方式"].source.startswith("柏香镇2025年普法工作总结 · ")
    assert rows["提升行政执法规范化水平"].label == "未见材料" and rows["提升行政执法规范化水平"].source == ""
    table = next(b for b in draft.parts[0].blocks if b.kind == "table")
    assert table.rows[0] == ["计划事项", "落实情况", "材料来源"]
    assert ["提升行政执法规范化水平", "未见材料", "—"] in table.rows
    assert "落实情况：已落实" in part_text(draft, "plans")


def test_sensitivity_check_finds_planted_id_and_phone(with_evidence: tuple[Assistant, Draft]) -> None:
    _, draft = with_evidence
    kinds = {w.kind for w in draft.warnings}
    assert {"id_card", "mobile", "personal_name"} <= kinds
    assert all(w.location for w in draft.warnings)
    assert "一、（四）完善矛盾纠纷化解机制" in {w.location for w in draft.warnings if w.kind == "id_card"}
    summary = render_text(draft)[0]
    assert "身份证号：" in summary and "手机号：" in summary and "139****5678" in summary
    assert ID_NUMBER not in summary and MOBILE not in summary  # the chat is no place for them either


def test_docx_opens_with_headings_placeholders_and_table(with_evidence: tuple[Assistant, Draft],
                                                         tmp_path: Path) -> None:
    _, draft = with_evidence
    path = write_docx(draft, tmp_path / "草稿.docx")
    document = Document(str(path))
    texts = [p.text for p in document.paragraphs]
    assert "柏香镇人民政府关于2025年法治政府建设情况的报告" in texts
    assert "柏政〔2026〕【待填】号\t签发人：【待填】" in texts and "沁阳市司法局：" in texts
    for heading in ("一、2025年法治政府建设主要工作及成效", "（三）创新普法宣传方式", "二、存在的主要问题及原因",
                    "四、2026年法治政府建设工作计划", "五、其他需要报告的事项"):
        assert heading in texts
    body = "\n".join(texts)
    assert all(placeholder(value) in body for value in FIGURES_2024)
    highlighted = {r.text for p in document.paragraphs for r in p.runs if r.font.highlight_color}
    assert placeholder("69384件") in highlighted and "【未找到2025年相关材料】" in highlighted
    table = document.tables[0]
    assert [c.text for c in table.rows[0].cells] == ["计划事项", "落实情况", "材料来源"]
    assert [c.text for c in table.rows[3].cells][:2] == ["创新普法宣传方式", "已落实"]


def test_one_part_and_bad_requests(skeleton: Draft, built_data_dir: Path) -> None:
    assistant = make_assistant(built_data_dir)
    problems = build_draft(assistant.index, assistant.retriever, 2025, "problems")
    assert [p.key for p in problems.parts] == ["problems"] and problems.preamble == []
    texts = render_text(problems)
    assert len(texts) == 2 and texts[1].startswith("二、存在的主要问题及原因")
    assert len(render_text(skeleton)) == 6
    with pytest.raises(DraftError, match="可选"):
        build_draft(assistant.index, assistant.retriever, 2025, "appendix")
    with pytest.raises(DraftError, match="没有2029年的法治政府建设情况报告"):
        build_draft(assistant.index, assistant.retriever, 2030)


def test_previous_report_rebuilt_from_chunks_when_its_file_is_gone(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    copy = Path(shutil.copy(REPORT, folder / REPORT.name))
    assistant = make_assistant(tmp_path / "data", knowledge_dir=folder, include_national_laws=False)
    assistant.ingest([copy])
    original = parse_official_document(REPORT.read_text(encoding="utf-8"))
    copy.unlink()
    record = annual_reports(assistant.index)[0]
    rebuilt = parse_official_document(text_from_chunks(record, assistant.index.store.chunks_of(record.doc_id)))
    assert rebuilt.title == original.title and rebuilt.recipient == "沁阳市司法局"
    assert rebuilt.doc_number == original.doc_number and rebuilt.issuer == original.issuer
    outline = [(s.path, s.heading, s.text) for s in original.all_sections()]
    assert [(s.path, s.heading, s.text) for s in rebuilt.all_sections()] == outline
    found = find_previous_report(assistant.index, 2025)
    assert [(s.path, s.heading, s.text) for s in found.all_sections()] == outline
    assert found.preamble == original.preamble and found.closing == original.closing


def test_figures_have_units_and_labels_but_no_years_or_ordinals() -> None:
    sentence = "2024年，全年累计办理各类便民服务事项69384件，全镇37名行政执法人员均持证上岗，共接待群众来访171批次193人次。"
    assert [(f.text, f.label) for f in figures(sentence)] == [
        ("69384件", "办理各类便民服务事项"), ("37名", "行政执法人员"),
        ("171批次", "接待群众来访"), ("193人次", "接待群众来访")]
    assert figures("第3次会议审议了1.学习计划，“八五”普法于2025年3月1日启动") == []
    assert template("2024年，群众满意度达到99%。", 2025) == f"2025年，群众满意度达到{placeholder('99%')}。"


def test_sensitivity_scan_on_its_own() -> None:
    assert is_valid_id_card(ID_NUMBER) and not is_valid_id_card(ID_NUMBER[:-1] + "1")
    text = (f"信访人李明反映，身份证号{ID_NUMBER}，电话138-1234-5678；订单号{ID_NUMBER[:-1]}1，座机12345678901。"
            "当事人陈述清楚。王某与赵某某因土地纠纷调解成功。机密★1年。应当保守商业秘密。")
    warnings = scan(text, "材料")
    assert [(w.kind, w.item) for w in warnings] == [
        ("personal_name", "李明"), ("id_card", "410882********104X"), ("mobile", "138****5678"),
        ("personal_name", "王某"), ("personal_name", "赵某某"), ("classified", "机密")]
    assert all(w.location == "材料" for w in warnings)
    assert not any(ID_NUMBER in w.excerpt or "1234-5678" in w.excerpt for w in warnings)
    assert scan(REPORT.read_text(encoding="utf-8")) == []


def test_next_deadlines() -> None:
    report_due, publish_due = date(2000, 3, 1), date(2000, 4, 1)
    assert next_deadlines(date(2026, 1, 10), report_due, publish_due) == [
        (date(2026, 3, 1), "向上一级报送2025年度法治政府建设情况报告"),
        (date(2026, 4, 1), "向社会公开2025年度法治政府建设情况报告")]
    assert next_deadlines(date(2026, 3, 2), report_due, publish_due) == [
        (date(2026, 4, 1), "向社会公开2025年度法治政府建设情况报告"),
        (date(2027, 3, 1), "向上一级报送2026年度法治政府建设情况报告")]
    assert next_deadlines(date(2027, 2, 1), date(2000, 2, 29), publish_due)[0][0] == date(2027, 2, 28)
