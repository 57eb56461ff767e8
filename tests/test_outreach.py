"""Legal outreach for residents: answer shape, article lookup, repealed laws, 繁體, emergencies, scope."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from bot.assistant import Assistant
from bot.index import SearchFilter
from bot.model import STATUTES, in_force
from bot.retrieval import Lexicon, misspellings, normalize_question


def _cited_articles(assistant: Assistant, answer) -> list:
    """Every cited source must be a real, current, public article in the index."""
    chunks = assistant.index.store.chunks([s.chunk_id for s in answer.sources])
    assert len(chunks) == len(answer.sources)
    for source in answer.sources:
        chunk = chunks[source.chunk_id]
        assert chunk.audience == "public" and in_force(chunk.status) and chunk.article_no == source.article_no
    return list(chunks.values())


def test_answer_has_conclusion_basis_steps_and_disclaimer(assistant: Assistant) -> None:
    answer = assistant.ask("邻居家的树倒了砸了我的车谁赔？", "public")
    text = answer.text
    parts = [text.index(h) for h in ("【简单回答】", "【法律依据】", "【您可以这样做】", "【提示】")]
    assert parts == sorted(parts)
    assert "《中华人民共和国民法典》第一千二百五十七条" in text
    assert "林木的所有人或者管理人" in text.split("【法律依据】")[0]  # the one-sentence answer
    steps = text.split("【您可以这样做】")[1]
    assert steps.index("协商") < steps.index("人民调解委员会") < steps.index("12348") < steps.index("人民法院")
    assert "不是针对您具体情况的法律意见" in text
    _cited_articles(assistant, answer)


def test_mediation_is_free(assistant: Assistant) -> None:
    answer = assistant.ask("人民调解收费吗？", "public")
    assert answer.text.startswith("【简单回答】人民调解委员会调解民间纠纷，不收取任何费用。")
    assert answer.sources[0].citation == "《中华人民共和国人民调解法》第四条"


def test_labour_dispute_goes_to_arbitration(assistant: Assistant) -> None:
    answer = assistant.ask("老板拖欠工资不给怎么办？", "public")
    assert "劳动人事争议仲裁委员会" in answer.text
    assert any("劳动合同法" in s.title for s in answer.sources)


def test_basis_follows_the_matched_situation_then_retrieval(assistant: Assistant) -> None:
    """A matched situation's articles lead the basis, in the situation's order; retrieval fills the rest
    (this test index holds five laws, so only their articles can appear)."""
    for question in ("搬走时房东扣着押金不给", "老板拖欠工资不给怎么办？", "试用期被辞退有补偿吗"):
        consultation = assistant.outreach.consult(question)
        assert consultation.situation is not None, question
        shown = [s.chunk_id for s in assistant.ask(question, "public").sources]
        assert shown == [e.chunk.chunk_id for e in consultation.articles][: len(shown)], question
        lead = [(e.chunk.title, e.chunk.article_no) for e in consultation.articles[:1]]
        first = consultation.situation.articles
        assert lead[0] in {(a.law, a.number) for a in first} or not any(
            assistant.retriever.article(a.law, a.number).current for a in first), question


def test_colloquial_words_reach_the_legal_terms(assistant: Assistant) -> None:
    """快递 → 运输合同/承运人 (knowledge/lexicon/colloquial.tsv): the carrier's liability article ranks
    third without the lexicon on this index, within the top two with it."""
    hits = assistant.retriever.retrieve("快递公司把我寄的东西弄丢了，能要求赔偿吗？", "public", 2)
    assert "《中华人民共和国民法典》第八百三十二条" in [e.chunk.cite() for e in hits]


def test_residents_ranking_prefers_everyday_laws_and_staff_ranking_is_untouched(assistant: Assistant) -> None:
    """Residents' scores carry the weight of `resident_laws.tsv` (民法典 listed, 不动产登记暂行条例 not);
    staff scores for the same candidates do not."""
    question = "不动产登记需要什么材料"
    weights = assistant.retriever.lexicon.resident_laws
    public = {e.chunk.chunk_id: e for e in assistant.retriever.retrieve(
        question, "public", 30, SearchFilter("public", doc_types=STATUTES))}
    staff = {e.chunk.chunk_id: e for e in assistant.retriever.retrieve(
        question, "staff", 30, SearchFilter("staff", doc_types=STATUTES))}
    shared = public.keys() & staff.keys()
    titles = {public[c].chunk.title for c in shared}
    assert {"中华人民共和国民法典", "不动产登记暂行条例"} <= titles
    for chunk_id in shared:
        boost = public[chunk_id].score - staff[chunk_id].score
        assert boost == pytest.approx(weights.get(public[chunk_id].chunk.title, 0.0))
    assert weights["中华人民共和国民法典"] > 0 and "不动产登记暂行条例" not in weights


def test_resident_law_weights_file_skips_bad_lines(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "resident_laws.tsv").write_text(
        "# 注释\n中华人民共和国民法典\t0.2\n中华人民共和国刑法\t很多\n中华人民共和国劳动法\t3\n只有名称\n",
        encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        lexicon = Lexicon(tmp_path)
    assert lexicon.resident_laws == {"中华人民共和国民法典": 0.2}
    assert sum("resident_laws.tsv: skipped" in r.getMessage() for r in caplog.records) == 3


def test_article_lookup_by_alias_and_number(assistant: Assistant) -> None:
    for question in ("民法典第1257条是怎么规定的？", "民法典第一千二百五十七条", "《民法典》第 1257 条"):
        answer = assistant.ask(question, "public")
        assert answer.sources[0].citation == "《中华人民共和国民法典》第一千二百五十七条", question
        assert "林木折断" in answer.text
    answer = assistant.ask("调解法第四条说的什么", "public")
    assert answer.sources[0].citation == "《中华人民共和国人民调解法》第四条"


def test_repealed_law_named_as_repealed(assistant: Assistant) -> None:
    answer = assistant.ask("婚姻法规定离婚时夫妻共同财产怎么分？", "public")
    assert "《婚姻法》已于2021年1月1日废止" in answer.text
    assert all("婚姻法" not in s.title for s in answer.sources)
    assert any(s.title == "中华人民共和国民法典" for s in answer.sources)
    old = assistant.ask("乡镇企业法第二条是怎么规定的？", "public")
    assert "“已废止”" in old.text
    assert all(s.title != "中华人民共和国乡镇企业法" for s in old.sources)


def test_traditional_chinese_works_the_same(assistant: Assistant) -> None:
    simplified = assistant.ask("人民调解收费吗？", "public")
    traditional = assistant.ask("人民調解收費嗎？", "public")
    assert traditional.text == simplified.text
    assert [s.citation for s in traditional.sources] == [s.citation for s in simplified.sources]


def test_emergency_goes_to_110_first(assistant: Assistant) -> None:
    for question in ("救命，我老公正在打我", "他拿刀威胁要杀了我怎么办"):
        first = assistant.ask(question, "public").text.splitlines()[0]
        assert first.startswith("【紧急】") and "立即拨打 110" in first


def test_a_child_lost_in_a_supermarket_goes_to_110_first(assistant: Assistant) -> None:
    """小子 is a son, and twenty minutes of searching is a search: the missing-child line comes first."""
    question = "在县城超市买东西一扭头俺家三岁的小子不见了 找了二十分钟都找不着 急死了"
    assert assistant.ask(question, "public").text.startswith("【紧急】孩子或老人走失")


def test_an_emergency_answer_asks_no_which_one_question(assistant: Assistant) -> None:
    """Under the 110 line the resident is not asked which of two situations was meant (a lost boy was asked
    whether he meant a shop selling medicines without a licence)."""
    question = "在县城超市买东西一扭头俺家三岁的小子不见了 找了二十分钟都找不着 急死了"
    consultation = assistant.outreach.consult(normalize_question(question))
    assert consultation.emergency is not None and not consultation.alternatives
    assert "您问的是" not in assistant.ask(question, "public").text


def test_vague_and_out_of_scope(assistant: Assistant) -> None:
    assert "能再具体说说吗" in assistant.ask("调解", "public").text
    assert "不属于法律咨询" in assistant.ask("今天天气怎么样", "public").text
    assert "不属于法律咨询" in assistant.ask("推荐一部好看的电影", "public").text
    assert "不属于法律咨询" in assistant.ask("帮我写一首关于春天的诗", "public").text


def test_a_four_character_question_that_asks_who_answers_is_answered(assistant: Assistant) -> None:
    """危桥谁管 names its subject and asks who answers for it; 调解 or 吃饭咋弄 say too little, and a
    subject that is no situation's keyword (睡觉犯法) gets no situation's articles."""
    assert "能再具体说说吗" not in assistant.ask("危桥谁管", "public").text
    consultation = assistant.outreach.consult(normalize_question("危桥谁管"))
    assert consultation.situation is not None and consultation.situation.id == "util-village-road-bridge-unrepaired"
    for question in ("调解", "吃饭咋弄", "种地咋办"):
        assert "能再具体说说吗" in assistant.ask(question, "public").text, question
    assert assistant.outreach.consult(normalize_question("睡觉犯法")).situation is None


def test_short_small_talk_matches_no_situation(assistant: Assistant) -> None:
    """e5 finds any two short texts alike: small talk must neither get a situation's articles nor the
    classifier's emergency line, while a short real question without legal words keeps its situation."""
    for question in ("明天下雨不", "今天吃啥好", "讲个笑话呗", "今天好冷"):
        answer = assistant.ask(question, "public")
        assert not answer.sources and not answer.text.startswith("【紧急】"), question
    consultation = assistant.outreach.consult(normalize_question("村里账目咋不公开"))
    assert consultation.situation is not None and consultation.situation.id == "village-affairs-disclosure"


def test_lay_legal_questions_without_legal_words_are_not_declined(assistant: Assistant) -> None:
    """Residents rarely say 法 or 权: an assault, a return, a boss, a deposit are still legal questions."""
    for question in ("村里有人打了我一顿，派出所会怎么处理他？", "网上买的衣服不合适，没有质量问题能退吗？",
                     "老板说我迟到就扣一半工钱，这样行吗？", "搬走时房东扣着押金不给"):
        text = assistant.ask(question, "public").text
        assert "不属于法律咨询" not in text and "【提示】" in text, question


def test_resident_answers_never_include_staff_material(assistant: Assistant) -> None:
    for question in ("柏香镇2024年便民服务办了多少件", "镇里的法治政府建设报告", "签发人朱娇", "人民调解员有多少名"):
        answer = assistant.ask(question, "public")
        assert "柏香镇人民政府" not in answer.render() and "69384" not in answer.render()
        assert not re.search(r"210名", answer.render())
        assert all(s.doc_type in ("law", "regulation") for s in answer.sources)


def test_beside_a_situation_only_retrieved_articles_sharing_the_questions_words(assistant: Assistant) -> None:
    """A matched situation's articles lead; a retrieved article shown beside them must share some of the
    question's wording (one that only ranked high, 民法典 on counting periods for a fraud story, is not shown)."""
    from bot.answer import focus_terms
    from bot.outreach import NEIGHBOUR_FLOOR

    extractive = assistant.outreach.extractive
    checked = 0
    for question in ("在网上刷单，开始返了几十块，后来叫我充五千做任务就不返了，客服也拉黑我了",
                     "搬走时房东扣着押金不给", "试用期被辞退有补偿吗", "邻居家的树倒了砸了我的车谁赔？"):
        c = assistant.outreach.consult(question)
        assert c.situation is not None, question
        own = {(a.law, a.number) for s in (c.situation, *c.related) for a in s.articles}
        terms = focus_terms(question, [])
        synonyms = extractive.synonyms(question, terms)
        for e in c.articles:
            if (e.chunk.title, e.chunk.article_no) not in own and not e.exact:
                checked += 1
                assert extractive.coverage(terms, e.chunk.text, synonyms) >= NEIGHBOUR_FLOOR, (question, e.chunk.cite())
    assert checked  # retrieval did add articles beside the situations


def test_common_misspellings_are_read_as_the_word_meant(assistant: Assistant) -> None:
    """离昏 → 离婚, 陪偿 → 赔偿 (knowledge/lexicon/typos.tsv): the misspelled question gets the same
    answer as the spelled one."""
    for misspelled, spelled in (("俺想离昏他不同意", "俺想离婚他不同意"),
                                ("出了车祸对方全责不给陪偿", "出了车祸对方全责不给赔偿")):
        assert normalize_question(misspelled) == spelled
        assert ([s.chunk_id for s in assistant.ask(misspelled, "public").sources]
                == [s.chunk_id for s in assistant.ask(spelled, "public").sources])


def test_misspellings_listed_are_no_words_of_the_law() -> None:
    """A “misspelling” found in a law or regulation is a real word (公正处理): rewriting it would change
    what residents and staff ask."""
    import sqlite3

    from bot.laws_db import laws_db_path

    with sqlite3.connect(f"file:{laws_db_path()}?mode=ro", uri=True) as conn:
        texts = [text for (text,) in conn.execute("SELECT article_text FROM articles")]
    knowledge = Path(__file__).resolve().parent.parent / "knowledge"
    texts += [p.read_text(encoding="utf-8") for p in (knowledge / "regulations").rglob("*.md")]
    texts += [p.read_text(encoding="utf-8") for p in knowledge.glob("*.txt")]  # the township's report
    corpus = "\n".join(texts)
    assert len(corpus) > 5_000_000
    for wrong, _ in misspellings():
        assert wrong not in corpus, wrong


def test_each_misspelling_is_corrected_once_not_again_by_another_row(assistant: Assistant) -> None:
    """Corrections run in one pass, longest first: 找不着火了 (voice input for “can find no work”) and the right
    找不着活 become 找不到活 and stay so, though 着活 alone is corrected to 着火 — no fire for a jobless worker."""
    assert normalize_question("在外边找不着火了 咋办") == "在外边找不到活了 咋办"
    assert normalize_question("过了年还找不着活") == "过了年还找不到活"
    assert normalize_question("家里着活了") == "家里着火了"
    assert not assistant.ask("在外边找不着火了 咋办", "public").text.startswith("【紧急】")
    assert assistant.ask("家里着活了 快", "public").text.startswith("【紧急】")


def test_a_match_that_only_just_clears_the_bar_is_offered_as_an_if(assistant: Assistant,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Matches just over the bar name the wrong situation about half the time: the explanation then says
    which situation it is for, so the resident can tell; a sure match states it outright."""
    from bot import messages
    from bot import outreach as outreach_module

    question = "邻居家的树倒了砸了我的车谁赔？"
    situation = assistant.outreach.consult(question).situation
    assert situation is not None
    hedge = messages.IF_SITUATION.format(name=situation.name)
    assert hedge not in assistant.ask(question, "public").text
    monkeypatch.setattr(outreach_module, "SURE_MATCH", 2.0)  # as if the match had only just cleared the bar
    answer = assistant.ask(question, "public")
    assert answer.text.startswith(messages.OUTREACH_CONCLUSION + hedge) and not answer.abstained
