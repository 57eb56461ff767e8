"""Staff answers over two years of reports: the asked year only, every figure with its year, a plain
"no material" for a year without documents, comparisons computed from cited figures, header facts and
outline lists. The 2023 report is test data (fictional figures), marked as such in the file."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from bot.assistant import Assistant
from bot.timeframe import resolve

from .conftest import make_assistant

REPORT_2023 = Path(__file__).parent / "data" / "柏香镇人民政府关于2023年法治政府建设情况的报告（测试数据）.txt"
TODAY = date(2026, 11, 26)


@pytest.fixture(scope="module")
def two_years(built_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    data = tmp_path_factory.mktemp("two-years")
    shutil.copytree(built_data_dir, data, dirs_exist_ok=True)
    assistant = make_assistant(data, today=TODAY)
    assistant.ingest([REPORT_2023], "staff")
    return assistant


def test_relative_years_resolve_against_the_clock() -> None:
    assert resolve("去年便民服务事项办了多少件", TODAY).years == (2025,)
    assert resolve("前年", TODAY).years == (2024,) and resolve("大前年", TODAY).years == (2023,)
    assert resolve("上一年度的报告", date(2025, 3, 1)).years == (2024,)
    assert resolve("近三年调解了多少件", TODAY).years == (2023, 2024, 2025)
    assert resolve("2024年比2023年多办了多少件", TODAY).comparison
    assert resolve("柏政〔2025〕14号", TODAY) is None and resolve("人民调解员有多少名", TODAY) is None


@pytest.mark.parametrize(("question", "year", "figure", "other"), [
    ("2023年便民服务事项一共办了多少件？", 2023, "58210", "69384"),
    ("前年便民服务中心办件量是多少？", 2024, "69384", "58210"),
    ("大前年人民调解员有多少名？", 2023, "198", "210"),
])
def test_the_asked_years_figure_only_with_its_year(two_years: Assistant, question: str, year: int, figure: str,
                                                   other: str) -> None:
    answer = two_years.ask(question)
    assert answer.text.startswith(f"{year}年，") and figure in answer.text and other not in answer.render()
    assert {s.year for s in answer.sources} == {year}


def test_a_year_without_documents_says_so_first(two_years: Assistant) -> None:
    answer = two_years.ask("去年便民服务事项办了多少件？")
    assert answer.text.startswith("现有材料中没有2025年的数据。")
    assert "2024年，全年累计办理各类便民服务事项69384件" in answer.text and "58210" not in answer.render()
    assert answer.abstained


def test_comparison_gives_each_year_and_a_computed_difference(two_years: Assistant) -> None:
    answer = two_years.ask("2024年比2023年多办了多少件便民服务事项？")
    lines = answer.text.splitlines()
    assert lines[0].startswith("2023年") and "58210件。[1]" in lines[0]
    assert lines[1].startswith("2024年") and "69384件。[2]" in lines[1]
    assert "计算值" in lines[2] and "多11174件" in lines[2]
    assert [s.year for s in answer.sources] == [2023, 2024]


@pytest.mark.parametrize(("question", "value"), [
    ("2024年法治政府建设报告的文号是什么？", "柏政〔2025〕14号"),
    ("2023年报告是谁签发的？", "李明"),
    ("2024年的报告是哪天印发的？", "2025年3月3日"),
    ("法治政府建设报告报送给哪个单位？", "沁阳市司法局"),
])
def test_header_facts_come_from_the_parsed_header(two_years: Assistant, question: str, value: str) -> None:
    answer = two_years.ask(question)
    assert value in answer.text and answer.sources[0].section_path == "文件信息"


def test_list_questions_get_the_headings_of_the_part(two_years: Assistant) -> None:
    answer = two_years.ask("2024年报告里列了哪些存在的主要问题？")
    for heading in ("法治意识有待进一步提高", "行政执法水平有待提升", "普法宣传效果有待增强"):
        assert heading in answer.text
    assert [s.section_path for s in answer.sources] == ["二、（一）", "二、（二）", "二、（三）"]
    assert all(s.year == 2024 for s in answer.sources)


def test_named_years_win_over_a_span_and_short_years_count() -> None:
    assert resolve("调解成功率这两年（2023、2024）对比一下", TODAY).years == (2023, 2024)
    assert resolve("23年群众满意度是多少", TODAY).years == (2023,)
    assert resolve("干了12年", TODAY) is None and resolve("柏政（2025）14号", TODAY) is None


def test_no_year_named_means_the_latest_report(two_years: Assistant) -> None:
    answer = two_years.ask("法治建设工作领导小组的组长由谁担任？")
    assert "镇党委书记" in answer.text and answer.text.startswith("2024年")
    assert {s.year for s in answer.sources} == {2024}


def test_another_township_is_not_answered_from_ours(two_years: Assistant) -> None:
    answer = two_years.ask("紫陵镇2024年化解了多少件矛盾纠纷？")
    assert answer.abstained and "紫陵镇" in answer.text and "62" not in answer.render()
    assert not two_years.ask("柏香镇2024年化解了多少件矛盾纠纷？").abstained


def test_several_header_fields_in_one_question(two_years: Assistant) -> None:
    answer = two_years.ask("2023年度法治政府建设报告的签发人和文号分别是什么？")
    assert "李明" in answer.text and "柏政〔2024〕9号" in answer.text
    answer = two_years.ask("2024年的法治报告是哪个部门印发的，哪天印的？")
    assert "柏香镇党政办公室" in answer.text and "2025年3月3日" in answer.text


def test_words_the_segmenter_made_up_do_not_sink_an_answer(two_years: Assistant) -> None:
    answer = two_years.ask("2023年咱们镇配了多少名人民调解员？")  # 咱们镇配了 → 镇配
    assert "198" in answer.text and answer.text.startswith("2023年")


def test_a_time_limit_question_gets_the_sentence_with_the_limit(two_years: Assistant) -> None:
    answer = two_years.ask("调解协议达成后，双方想申请司法确认，最迟要在多长时间内提出？")
    assert "三十日" in answer.text and answer.sources[0].title == "中华人民共和国人民调解法"


def test_comparison_with_a_year_missing_shows_the_other_once(built_data_dir: Path) -> None:
    one_year = make_assistant(built_data_dir, today=TODAY)
    answer = one_year.ask("持证执法人员2023年和2024年分别是多少，有变化吗？")
    assert answer.text.startswith("现有材料中没有2023年的数据。")
    assert answer.text.count("37名") == 1 and "计算值" not in answer.text


def test_a_change_in_a_count_is_answered_with_the_figures(two_years: Assistant) -> None:
    """人数 asks for a number: 人民调解法's “人数较少民族” shares the word, not the answer."""
    answer = two_years.ask("2023年和2024年人民调解员人数有什么变化？")
    assert "198" in answer.text and "210" in answer.text and "人数较少" not in answer.text
