"""Figures by year (issue #13): extracted at ingest from the township's own documents into the store,
metric names normalised by knowledge/metrics.toml, shown by `fazhi figures`, and used by the draft to fill
last year's placeholders with this year's values. The 2023 report and the two 2025 documents are fictional
test data, marked as such in their files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from docx import Document
from docx.enum.text import WD_COLOR_INDEX

from bot import figures as figures_module
from bot.assistant import Assistant
from bot.channels.cli import main
from bot.drafting import Draft, build_draft, render_text, write_docx
from bot.figures import METRICS_FILE, MetricDataError, extract, figure_table, load_metrics, spot
from bot.loaders import load_file

from .conftest import REPORT, make_assistant

DATA = Path(__file__).parent / "data"
REPORT_2023 = DATA / "柏香镇人民政府关于2023年法治政府建设情况的报告（测试数据）.txt"
PUFA_2025 = DATA / "柏香镇2025年普法工作总结（测试数据）.txt"
TIAOJIE_2025 = DATA / "柏香镇司法所关于2025年人民调解工作情况的报告（测试数据）.txt"
TITLE_2024 = "柏香镇人民政府关于2024年法治政府建设情况的报告"
TITLE_2023 = "柏香镇人民政府关于2023年法治政府建设情况的报告"
PUFA_TITLE = "柏香镇2025年普法工作总结（测试数据）"
TIAOJIE_TITLE = "柏香镇司法所关于2025年人民调解工作情况的报告"
# Every figure of the two reports, by metric: (2023, 2024), with the section the 2024 one stands in.
REPORT_FIGURES = {
    "法治建设专题会议次数": ("10次", "12次", "一、（一）1."),
    "理论学习中心组集中学习次数": ("3次", "4次", "一、（一）2."),
    "便民服务事项办理量": ("58210件", "69384件", "一、（二）1."),
    "群众满意度": ("98%", "99%", "一、（二）1."),
    "执法人员培训人次": ("150余人次", "200余人次", "一、（三）1."),
    "执法人员数": ("35名", "37名", "一、（三）1."),
    "人民调解委员会数": ("61个", "63个", "一、（四）1."),
    "人民调解员数": ("198名", "210名", "一、（四）1."),
    "调解纠纷件数": ("57件", "62件", "一、（四）1."),
    "调解成功件数": ("55件", "62件", "一、（四）1."),
    "调解成功率": ("96.5%", "100%", "一、（四）1."),
    "接待群众来访批次": ("158批次", "171批次", "一、（四）2."),
    "接待群众来访人次": ("176人次", "193人次", "一、（四）2."),
    "化解信访积案件数": ("41件", "55件", "一、（四）2."),
    "普法活动场次": ("3场次", "4场次", "一、（四）3."),
    "发放宣传资料份数": ("4200份", "5000份", "一、（四）3."),
    "受众人数": ("5100人次", "6000人次", "一、（四）3."),
    "主要负责人参加集中学法次数": ("10次", "12次", "三、（一）"),
    "学习心得篇数": ("5篇", "6篇", "三、（一）"),
    "主要负责人主持专题会议次数": ("10次", "12次", "三、（二）"),
    "重要批示次数": ("9次", "12次", "三、（二）"),
}


def fill(value: str, source: str, last: str) -> str:
    return f"〖{value}（来源：{source}；2024年：{last}；请核对）〗"


def placeholder(value: str) -> str:
    return f"【待填：2025年数值（2024年：{value}）】"


@pytest.fixture(scope="module")
def three_years(built_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """The session index (2024 report, laws) plus the 2023 report and the two 2025 documents."""
    data = tmp_path_factory.mktemp("figures") / "data"
    shutil.copytree(built_data_dir, data)
    assistant = make_assistant(data)
    report = assistant.ingest([REPORT_2023, PUFA_2025, TIAOJIE_2025], "staff")
    assert sorted(d.year for d in report.added) == [2023, 2025, 2025]
    return assistant


@pytest.fixture(scope="module")
def draft_2025(three_years: Assistant) -> Draft:
    return build_draft(three_years.index, three_years.retriever)


def stated(assistant: Assistant, title: str) -> dict[str, list[tuple[int, str]]]:
    """metric → [(year, value)] of one document's stored figures."""
    found: dict[str, list[tuple[int, str]]] = {}
    for f in assistant.index.store.figures():
        if f.title == title:
            found.setdefault(f.metric, []).append((f.year, f.text))
    return found


# ---- extraction -------------------------------------------------------------------------------------------
def test_every_figure_of_both_reports_under_its_metric() -> None:
    catalogue = load_metrics()
    for path, year, column in ((REPORT_2023, 2023, 0), (REPORT, 2024, 1)):
        figures = extract(load_file(path).chunks, catalogue)
        assert sorted((f.metric, f.year, f.text) for f in figures) == sorted(
            (metric, year, values[column]) for metric, values in REPORT_FIGURES.items())
        for f in figures:
            assert f.section_path == REPORT_FIGURES[f.metric][2], f
            assert f.text.removesuffix(f.unit).rstrip("余") in f.excerpt and f.chunk_id.startswith(f.doc_id)


def test_ingest_stores_figures_by_year_and_wordings_meet(three_years: Assistant) -> None:
    store = three_years.index.store
    assert stated(three_years, TITLE_2024)["便民服务事项办理量"] == [(2024, "69384件")]
    assert stated(three_years, TITLE_2023)["便民服务事项办理量"] == [(2023, "58210件")]
    # 2024: 排查化解各类矛盾纠纷62件，其中成功调解62件 / 2025: 受理矛盾纠纷85件，调解成功83件
    tiaojie = stated(three_years, TIAOJIE_TITLE)
    assert tiaojie == {"调解纠纷件数": [(2025, "85件"), (2024, "62件")], "调解成功件数": [(2025, "83件")],
                       "走访次数": [(2025, "150次")]}  # 2024年，全镇受理…62件: the sentence's year; no 2026 plan
    # 2024: 法治宣传活动4场次、发放宣传资料5000份、受教育群众6000人次 / 2025: 普法活动8场、明白纸等资料6,500份、覆盖群众8,000人
    assert stated(three_years, PUFA_TITLE) == {"短视频条数": [(2025, "36条")], "普法活动场次": [(2025, "8场")],
                                               "发放宣传资料份数": [(2025, "6500份")], "受众人数": [(2025, "8000人")]}
    township = {r.doc_id for r in store.documents() if r.doc_type in ("report", "other")}
    assert set(store.figure_digests()) == township and {f.doc_id for f in store.figures()} <= township
    assert any(r.doc_type == "law" for r in store.documents())  # laws were ingested, and got no figures


def test_spotting_numbers_units_and_years() -> None:
    catalogue = load_metrics()
    found = spot("2023年，发放宣传资料1.2万份，较2022年增加15件，覆盖群众8,000余人。第3次会议。", catalogue)
    assert [(s.metric, s.value, s.text, s.year) for s in found] == [
        ("发放宣传资料份数", 12000, "1.2万份", 2023), ("受众人数", 8000, "8000余人", 2023)]
    assert spot("2026年计划开展普法活动10场。", catalogue) == []  # a plan, not a result
    assert [s.metric for s in spot("全镇37名行政执法人员均持证上岗", catalogue)] == ["执法人员数"]


# ---- fazhi figures ------------------------------------------------------------------------------------------
def test_fazhi_figures_prints_metrics_by_year_with_sources(three_years: Assistant, capsys) -> None:
    data_dir = str(three_years.settings.data_dir)
    assert main(["--data-dir", data_dir, "figures", "--metric", "调解成功"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == ["指标｜2023年｜2024年｜2025年", "调解成功件数｜55件[1]｜62件[2]｜83件[3]",
                         "调解成功率｜96.5%[1]｜100%[2]｜—"]
    assert lines[3:] == ["来源：", f"[1] {TITLE_2023} · 一、（四）1.", f"[2] {TITLE_2024} · 一、（四）1.",
                         f"[3] {TIAOJIE_TITLE} · 一、"]
    assert main(["--data-dir", data_dir, "figures", "--year", "2025"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("指标｜2025年\n") and "短视频条数｜36条[" in out and "走访次数｜150次[" in out
    assert "69384" not in out and "便民服务事项办理量" not in out
    assert main(["--data-dir", data_dir, "figures", "--metric", "不存在的指标"]) == 1
    assert "没有找到符合条件的数字指标" in capsys.readouterr().out


# ---- a document's figures live and die with it ---------------------------------------------------------------
def test_figures_follow_their_document(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    copy = Path(shutil.copy(TIAOJIE_2025, folder / TIAOJIE_2025.name))
    assistant = make_assistant(tmp_path / "data", knowledge_dir=folder, include_national_laws=False)
    assistant.ingest([folder], "staff")
    assert stated(assistant, TIAOJIE_TITLE)["调解成功件数"] == [(2025, "83件")]
    copy.write_text(copy.read_text(encoding="utf-8").replace("调解成功83件", "调解成功84件"), encoding="utf-8")
    assistant.ingest([folder], "staff")  # changed: its figures are replaced, not added to
    assert stated(assistant, TIAOJIE_TITLE)["调解成功件数"] == [(2025, "84件")]
    assert assistant.remove(TIAOJIE_TITLE) == [TIAOJIE_TITLE]
    assert assistant.index.store.figures() == [] and assistant.index.store.figure_digests() == {}
    assert assistant.figures().metrics == []


def test_a_corrected_metrics_file_re_extracts_stored_figures(tmp_path: Path) -> None:
    assistant = make_assistant(tmp_path / "data", knowledge_dir=tmp_path, include_national_laws=False)
    assistant.ingest([PUFA_2025], "staff")
    store = assistant.index.store
    corrected = tmp_path / "metrics.toml"
    corrected.write_text('[[metric]]\nname = "普法视频数"\nunits = ["条"]\nwordings = ["短视频"]\n', encoding="utf-8")
    table = figure_table(store, path=corrected)
    assert table.metrics == ["普法视频数"] and [f.text for f in table.cells[("普法视频数", 2025)]] == ["36条"]
    assert figure_table(store).metrics == ["普法活动场次", "发放宣传资料份数", "受众人数", "短视频条数"]


def test_a_broken_metrics_file_is_named_and_does_not_stop_ingest(tmp_path: Path, monkeypatch, capsys) -> None:
    broken = tmp_path / "metrics.toml"
    broken.write_text('[[metric]]\nname = "调解成功件数"\nunits = ["件"]\nwordings = ["调解(成功"]\n', encoding="utf-8")
    monkeypatch.setattr(figures_module, "METRICS_FILE", broken)
    assistant = make_assistant(tmp_path / "data", knowledge_dir=tmp_path, include_national_laws=False)
    assert [d.title for d in assistant.ingest([TIAOJIE_2025], "staff").added] == [TIAOJIE_TITLE]
    assert assistant.index.store.figure_digests() == {}
    assert main(["--data-dir", str(tmp_path / "data"), "figures"]) == 2
    assert "metrics.toml [调解成功件数]: 说法的正则表达式有误" in capsys.readouterr().err
    monkeypatch.setattr(figures_module, "METRICS_FILE", METRICS_FILE)  # fixed: extracted on the next read
    assert assistant.figures(years=(2025,)).metrics == ["调解纠纷件数", "调解成功件数", "走访次数"]


# ---- metrics.toml ------------------------------------------------------------------------------------------
def test_bundled_metrics_cover_the_township_work() -> None:
    names = load_metrics(METRICS_FILE).names()
    for name in ("普法活动场次", "发放宣传资料份数", "受众人数", "短视频条数", "调解纠纷件数", "调解成功件数", "走访次数",
                 "执法人员数", "行政复议案件数", "行政诉讼案件数", "合法性审查件数", "便民服务事项办理量", *REPORT_FIGURES):
        assert name in names


@pytest.mark.parametrize(("entry", "problem"), [
    ('name = "调解成功件数"\nwordings = ["调解成功"]', "[调解成功件数]: 缺少“units”"),
    ('name = "调解成功件数"\nunits = ["件"]\nwordings = ["调解(成功"]', "[调解成功件数]: 说法的正则表达式有误"),
    ('name = "调解成功件数"\nunits = ["件"]\nwording = ["调解成功"]', "[调解成功件数]: 不认识的字段 wording"),
    ('name = "调解成功件数"\nunits = "件"\nwordings = ["调解成功"]', "[调解成功件数]: 缺少“units”"),
    ('units = ["件"]\nwordings = ["调解成功"]', "[[metric]] #2: 缺少“name”"),
    ('name = "便民服务事项办理量"\nunits = ["件"]\nwordings = ["办件"]', "[便民服务事项办理量]: 指标名重复"),
    ('name = "调解成功件数"\nunits = ["件"\n', "TOML 格式错误"),
])
def test_malformed_metrics_are_refused_naming_file_and_entry(tmp_path: Path, entry: str, problem: str) -> None:
    path = tmp_path / "metrics.toml"
    first = '[[metric]]\nname = "便民服务事项办理量"\nunits = ["件"]\nwordings = ["便民服务事项"]\n\n'
    path.write_text(first + "[[metric]]\n" + entry + "\n", encoding="utf-8")
    with pytest.raises(MetricDataError) as error:
        load_metrics(path)
    assert str(error.value).startswith("metrics.toml") and problem in str(error.value)


# ---- the draft fills itself from this year's material ----------------------------------------------------------
def test_draft_fills_placeholders_with_this_years_values(draft_2025: Draft) -> None:
    assert draft_2025.year == 2025
    text = "\n".join(render_text(draft_2025))
    tiaojie, pufa = f"{TIAOJIE_TITLE} · 一、", f"{PUFA_TITLE} · 二、"
    assert (f"全年共排查化解各类矛盾纠纷{fill('85件', tiaojie, '62件')}，其中成功调解{fill('83件', tiaojie, '62件')}，"
            f"调解成功率达到{placeholder('100%')}。") in text
    assert (f"全年共开展各类法治宣传活动{fill('8场', pufa, '4场次')}，发放宣传资料{fill('6500份', pufa, '5000份')}，"
            f"受教育群众达{fill('8000人', pufa, '6000人次')}。") in text
    for value in ("69384件", "99%", "63个", "210名", "171批次", "37名", "12次", "6篇"):  # nothing for them in 2025
        assert placeholder(value) in text, value
    assert placeholder("62件") not in text and "83件" in text and "2023年" not in text.split("附件：")[0]


def test_draft_summary_lists_what_was_filled(draft_2025: Draft) -> None:
    summary = render_text(draft_2025)[0].splitlines()
    start = summary.index("已填入 5 处本年数值，请核对：")
    assert summary[start + 1:start + 6] == [
        f"• 普法活动场次：8场（来源：{PUFA_TITLE} · 二、）", f"• 发放宣传资料份数：6500份（来源：{PUFA_TITLE} · 二、）",
        f"• 受众人数：8000人（来源：{PUFA_TITLE} · 二、）", f"• 调解纠纷件数：85件（来源：{TIAOJIE_TITLE} · 一、）",
        f"• 调解成功件数：83件（来源：{TIAOJIE_TITLE} · 一、）"]


def test_docx_highlights_filled_values_and_has_the_comparison_annex(draft_2025: Draft, tmp_path: Path) -> None:
    document = Document(str(write_docx(draft_2025, tmp_path / "草稿.docx")))
    highlighted = [r.text for p in document.paragraphs for r in p.runs if r.font.highlight_color == WD_COLOR_INDEX.YELLOW]
    assert fill("83件", f"{TIAOJIE_TITLE} · 一、", "62件") in highlighted
    assert placeholder("100%") in highlighted
    texts = [p.text for p in document.paragraphs]
    assert "附件：2024年与2025年主要数据对照表" in texts
    mark = texts.index("附件")
    assert document.paragraphs[mark].paragraph_format.page_break_before and texts[mark + 1] == "2024年与2025年主要数据对照表"
    annex = document.tables[-1]
    rows = {row.cells[0].text: [c.text for c in row.cells[1:]] for row in annex.rows}
    assert rows["指标"] == ["2024年（来源）", "2025年（来源）", "变化"]
    assert rows["调解成功件数"] == [f"62件（{TITLE_2024} · 一、（四）1.）", f"83件（{TIAOJIE_TITLE} · 一、）", "增加21件（+33.9%）"]
    assert rows["便民服务事项办理量"] == [f"69384件（{TITLE_2024} · 一、（二）1.）", "【待填】", "—"]
    assert rows["短视频条数"] == ["—", f"36条（{PUFA_TITLE} · 一、）", "—"]
    assert rows["普法活动场次"][2] == "单位不同（场次／场），未计算"
    assert "调解纠纷件数" in rows and "法律援助案件数" not in rows  # only metrics stated in either year
    missing = next(row.cells[2] for row in annex.rows if row.cells[0].text == "便民服务事项办理量")
    assert missing.paragraphs[0].runs[0].font.highlight_color == WD_COLOR_INDEX.YELLOW


def test_without_this_years_material_nothing_is_filled(built_data_dir: Path) -> None:
    assistant = make_assistant(built_data_dir)
    draft = build_draft(assistant.index, assistant.retriever, 2025, "results")
    summary, results = render_text(draft)
    assert "已填入" not in summary and "〖" not in results
    table = draft.annex[0].rows
    assert table[0][1:3] == ["2024年（来源）", "2025年（来源）"] and all(row[2] == "【待填】" for row in table[1:])
    assert "附件：2024年与2025年主要数据对照表\n指标｜2024年（来源）｜2025年（来源）｜变化\n" in results
