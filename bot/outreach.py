"""Legal outreach (普法) for residents: a plain answer first, then the current articles that apply,
then the way to real help in order of cost, then a note that this is not legal advice.

Emergencies are sent to 110 before anything else; vague questions get one clarifying question back;
questions outside law and township affairs are declined briefly. Only public sources are searched.
"""

from __future__ import annotations

import re

from . import messages
from .answer import COVERAGE_THRESHOLD, Answer, ExtractiveAnswerer, source_of
from .retrieval import Evidence, normalize_question

_EMERGENCY = re.compile(r"救命|要杀|杀了我|杀人|砍人|正在打|正在被打|被打伤|持刀|拿刀|自杀|不想活|跳楼|"
                        r"绑架|着火|打死|威胁要.{0,6}(杀|打|烧)|家暴.{0,4}(正在|现在)|(正在|现在).{0,4}家暴")
# Declining a real legal question costs a resident far more than attempting an odd one, so everyday
# dispute words count as legal cues too (打了我, 派出所, 退货, 老板, 押金 …), not only legal vocabulary.
_LEGAL_CUES = re.compile(r"法|律|权|责任|赔|偿|违约|合同|纠纷|起诉|告|仲裁|调解|工资|劳动|离婚|继承|遗产|"
                         r"抚养|赡养|借|欠|债|房|地|拆迁|征收|事故|伤|骗|偷|罚|罪|警|证|登记|补偿|保险|"
                         r"邻居|村委|政府|办理|申请|投诉|举报|维权|彩礼|婚|户口|低保|补贴|"
                         r"打了|打我|被打|派出所|公安|报警|拘留|退|买|卖|商家|店|质量|老板|公司|单位|厂|上班|"
                         r"加班|辞退|开除|医院|学校|撞|丢|坏|租|押金|物业|装修|快递|网购|网上|钱|律师|法院|"
                         r"判|合法|违法|不给|不还|不让|占|霸|欺负|威胁|骂|拖欠")
_LABOR = ("劳动", "工资", "劳动合同", "工伤", "社会保险", "劳动报酬")
_FAMILY_VIOLENCE = ("家庭暴力", "家暴", "反家庭暴力")
QUOTE_LIMIT = 150
# Lay wording rarely repeats the statute's words, so the bar for a one-sentence answer is lower than for
# staff answers, whose questions use the documents' own vocabulary.
CONCLUSION_THRESHOLD = 0.4


def is_emergency(question: str) -> bool:
    return bool(_EMERGENCY.search(question))


def is_vague(question: str) -> bool:
    core = re.sub(r"[^\u4e00-\u9fa5A-Za-z0-9]", "", question)
    return len(core) < 5


class OutreachAnswerer:
    """Plain-language answers for residents, built from public evidence only."""

    def __init__(self, extractive: ExtractiveAnswerer, max_articles: int = 3) -> None:
        self.extractive = extractive
        self.retriever = extractive.retriever
        self.max_articles = max_articles

    def answer(self, question: str) -> Answer:
        question = normalize_question(question)
        if is_emergency(question):
            return Answer(question, "public", messages.EMERGENCY, mode="outreach")
        if is_vague(question):
            return Answer(question, "public", messages.CLARIFY, mode="outreach")
        return self.answer_from(question, self.evidence(question))

    def evidence(self, question: str) -> list[Evidence]:
        return [e for e in self.retriever.retrieve(question, "public", 8) if e.chunk.audience == "public"]

    def answer_from(self, question: str, evidence: list[Evidence]) -> Answer:
        """The answer for evidence already retrieved (LLM mode reuses it for its prompt)."""
        if self._out_of_scope(question, evidence):
            return Answer(question, "public", messages.OUT_OF_SCOPE, abstained=True, mode="outreach")
        return self.compose(question, evidence, self._law_notes(question))

    def _out_of_scope(self, question: str, evidence: list[Evidence]) -> bool:
        """No legal wording, no lexicon phrase, and nothing retrieved covers it: not a legal question."""
        if _LEGAL_CUES.search(question) or self.retriever.lexicon.matches(question):
            return False
        scored = self.extractive.best_sentences(question, evidence)
        return not scored or scored[0][0] < COVERAGE_THRESHOLD

    def _law_notes(self, question: str) -> list[str]:
        """Say so when the question names a repealed law or a superseded version of an article."""
        notes = []
        for alias, note in self.retriever.lexicon.alias_notes.items():
            if re.search(rf"(?<![\u4e00-\u9fa5]){alias}|《{alias}》", question) and "民法典" not in question:
                notes.append(messages.LAW_REPEALED.format(name=alias, note=note))
        for ref in self.retriever.article_references(question):
            if ref.chunk is not None and ref.current is None:
                notes.append(messages.LAW_STATUS_NOTE.format(law=ref.law, version=ref.chunk.year or "旧",
                                                             status=ref.chunk.status))
        return notes

    def compose(self, question: str, evidence: list[Evidence], notes: list[str]) -> Answer:
        articles = [e for e in evidence if e.chunk.doc_type in ("law", "regulation")][: self.max_articles]
        scored = self.extractive.best_sentences(question, articles)
        confident = bool(scored) and scored[0][0] >= CONCLUSION_THRESHOLD or any(e.exact for e in articles)
        chosen = self._choose(articles, scored)
        lines = list(notes)
        sources = []
        if chosen and confident:
            best_index = chosen[0]
            conclusion = next((s for _, i, s in scored if i == best_index), articles[best_index].chunk.text)
            lines += [messages.OUTREACH_CONCLUSION + self.extractive.trim(conclusion, question)
                      + f"[{chosen.index(best_index) + 1}]"]
        elif chosen:
            lines.append(messages.OUTREACH_MAYBE)
        else:
            lines.append(messages.OUTREACH_NOTHING)
        if chosen:
            lines.append(messages.OUTREACH_BASIS)
            for n, i in enumerate(chosen, start=1):
                chunk = articles[i].chunk
                lines.append(f"{n}. {chunk.cite()}：{_shorten(chunk.text)}[{n}]")
                sources.append(source_of(n, articles[i]))
        lines.append(messages.OUTREACH_STEPS)
        lines += [f"{n}. {step}" for n, step in enumerate(self._steps(question, articles), start=1)]
        lines.append(messages.DISCLAIMER)
        return Answer(question, "public", "\n".join(lines), sources, abstained=not chosen, mode="outreach")

    @staticmethod
    def _choose(articles: list[Evidence], scored: list[tuple[float, int, str]]) -> list[int]:
        """The retrieved articles in ranking order, led by an exact article reference if the question
        named one, else by the article whose sentence best covers the question (it gives the one-sentence
        answer). Re-sorting all of them by sentence coverage would show fewer right articles: coverage
        rewards shared words, the ranking weighs more."""
        exact = [i for i, e in enumerate(articles) if e.exact]
        lead = exact[:1] or [i for _, i, _ in scored[:1]]
        return lead + [i for i in range(len(articles)) if i not in lead]

    @staticmethod
    def _steps(question: str, articles: list[Evidence]) -> list[str]:
        """Next steps in order of cost; labour disputes go to arbitration before court."""
        titles = " ".join(e.chunk.title for e in articles[:3])
        steps = [messages.STEP_TALK, messages.STEP_MEDIATION, messages.STEP_LEGAL_AID]
        if any(w in question or w in titles for w in _FAMILY_VIOLENCE):
            steps.insert(0, messages.STEP_FAMILY_VIOLENCE)
        if any(w in question for w in _LABOR) or "劳动" in titles:
            steps.append(messages.STEP_LABOR)
        else:
            steps.append(messages.STEP_COURT)
        return steps


def _shorten(text: str) -> str:
    text = text.replace("\n", "")
    return text if len(text) <= QUOTE_LIMIT else text[:QUOTE_LIMIT].rstrip("，、；") + "……"
