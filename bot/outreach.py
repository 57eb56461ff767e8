"""Legal outreach (普法) for residents: emergencies first, then a plain answer, the current articles that
apply, the way to real help in order of cost, and a note that this is not legal advice.

The question is matched to an everyday situation (`knowledge/situations/`): a matched situation's articles
lead the basis and its explanation gives the plain answer; retrieval fills the rest, limited to the laws
of the question's domain. When neither a situation nor an article clears its bar, the answer says so
plainly and shows at most what is relevant — a confidently wrong article is what a resident acts on.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from . import messages
from .answer import COVERAGE_THRESHOLD, Answer, ExtractiveAnswerer, citation, focus_terms, source_of
from .model import CURRENT, STATUTES
from .numerals import article_label
from .retrieval import Evidence, normalize_question
from .situation_index import (
    CLOSE_MARGIN,
    DOMAIN_THRESHOLD,
    MATCH_THRESHOLD,
    RELATED_FLOOR,
    RELATED_MARGIN,
    SituationIndex,
    SituationMatch,
)
from .situations import SITUATIONS_DIR, EmergencyRule, Situation, SituationCatalogue, load_catalogue

log = logging.getLogger(__name__)
# Declining a real legal question costs a resident far more than attempting an odd one, so everyday
# dispute words count as legal cues too (打了我, 派出所, 退货, 老板, 押金 …), not only legal vocabulary.
_LEGAL_CUES = re.compile(r"法|律|权|责任|赔|偿|违约|合同|纠纷|起诉|告|仲裁|调解|工资|劳动|离婚|继承|遗产|"
                         r"抚养|赡养|借|欠|债|房|地|拆迁|征收|事故|伤|骗|偷|罚|罪|警|证|登记|补偿|保险|"
                         r"邻居|村委|政府|办理|申请|投诉|举报|维权|彩礼|婚|户口|低保|补贴|"
                         r"打了|打我|被打|派出所|公安|报警|拘留|退|买|卖|商家|店|质量|老板|公司|单位|厂|上班|"
                         r"加班|辞退|开除|医院|学校|撞|丢|坏|租|押金|物业|装修|快递|网购|网上|钱|律师|法院|"
                         r"判|合法|违法|不给|不还|不让|占|霸|欺负|威胁|骂|拖欠|拘|扇|踢|踹|揍|耳光")
_LABOR = ("劳动", "工资", "劳动合同", "工伤", "社会保险", "劳动报酬")
QUOTE_LIMIT = 150
# Lay wording rarely repeats the statute's words, so the bar for a one-sentence answer is lower than for
# staff answers, whose questions use the documents' own vocabulary.
CONCLUSION_THRESHOLD = 0.4
RELEVANT_FLOOR = 0.1  # below a conclusion, an article this close may still be shown as possibly relevant
LONG_QUESTION_TERMS = 20  # beyond this many focus terms the floor above falls in proportion
# e5 puts any two short texts close (明天下雨不 and 被无故辞退了 at 0.89): a question this short that names
# nothing legal is matched to a situation only through its keywords or through words its phrasings share
# (`wording`: short questions residents really asked reach 0.16–0.45, small talk stays below 0.10)
SHORT_QUESTION = 12
VAGUE_LENGTH = 5  # below this many characters only an ask and a situation's own keyword make it a question
SHORT_WORDING = 0.15
NEAR_BEST = 0.5  # and a possibly relevant article shares at least half of what the closest one does
NEIGHBOUR_FLOOR = 0.1  # beside a matched situation, a retrieved article sharing less of the question is left out (0.05: more shown, fewer right)
SURE_MATCH = 0.65  # a match closer than this states its explanation outright (0.55–0.65: right about a third of the time)
SITUATION_LEAD = 2  # the matched situation's first articles, before runners-up and retrieval
RELATED_COUNT = 2  # runners-up that may add their leading article
DANGER_FLOOR = 0.4  # an emergency's own situation this close in wording adds its article beside another's answer
EMERGENCY_MATCH = 0.55  # a match this close to an emergency situation raises its first line too
GENERIC_HELP = ("talk", "mediation", "legal_aid", "court")


def _core(question: str) -> str:
    return re.sub(r"[^\u4e00-\u9fa5A-Za-z0-9]", "", question)


# A question of a few characters is clear when it asks who answers for its subject or whether it is lawful
# (危桥谁管, 狗咬谁赔, 偷电犯法; 种地咋办 says too little):
# it goes on to matching, where the short-question rule still asks for a situation's own words.
_ASKS = re.compile(r"谁(管|赔|负责|出钱|担责)|犯法|违法|合法|能告|告他|赔吗|赔不")


def _few_characters(question: str) -> bool:
    return len(_core(question)) < VAGUE_LENGTH


def is_vague(question: str) -> bool:
    """Too few characters to tell what happened, and no ask that would say it."""
    core = _core(question)
    return _few_characters(core) and not (len(core) >= 3 and _ASKS.search(core))


@dataclass
class Consultation:
    """What is known about one resident question before an answer is written (the LLM mode writes its
    own answer from the same evidence)."""

    question: str
    emergency: EmergencyRule | None = None
    situation: Situation | None = None
    alternatives: list[Situation] = field(default_factory=list)
    related: list[Situation] = field(default_factory=list)  # runners-up whose leading article is shown too
    danger: Situation | None = None  # the emergency's own situation: its leading article is shown in addition
    tentative: bool = False  # the situation only just cleared the bar: its explanation is offered as an "if"
    allowed_laws: frozenset[str] | None = None
    evidence: list[Evidence] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def articles(self) -> list[Evidence]:
        return [e for e in self.evidence if e.chunk.doc_type in STATUTES]


class OutreachAnswerer:
    """Plain-language answers for residents, built from public evidence only."""

    def __init__(self, extractive: ExtractiveAnswerer, catalogue: SituationCatalogue | Path | None = None,
                 max_articles: int = 5, situation_articles: int = 4, cache_dir: Path | None = None) -> None:
        """`catalogue`: the situations, or the folder to load them from on first use (a one-shot staff
        question never needs them; loading and compiling them takes most of a second)."""
        self.extractive = extractive
        self.retriever = extractive.retriever
        self._catalogue = catalogue
        self.max_articles = max_articles
        self.situation_articles = situation_articles
        self.cache_dir = cache_dir

    @cached_property
    def catalogue(self) -> SituationCatalogue:
        if isinstance(self._catalogue, SituationCatalogue):
            return self._catalogue
        return load_catalogue(self._catalogue or SITUATIONS_DIR, self.cache_dir)

    @cached_property
    def situations(self) -> SituationIndex:
        return SituationIndex(self.catalogue, self.retriever.index.embed_queries, self.retriever.lexicon.expand,
                              self.cache_dir)

    def prepare(self) -> int:
        """Embed the situations' phrasings now (setup, bot start), not at a resident's first question, and
        log articles the index lacks or holds only as repealed (the data is also checked against laws.db
        by a test and by `fazhi situations`; a one-shot `fazhi ask` skips this: it reads whole codes)."""
        for problem in self.problems():
            log.warning("situations: %s", problem)
        return len(self.situations.catalogue.situations)

    def problems(self) -> list[str]:
        """The situations' articles checked against the index. Laws the index does not hold at all are
        skipped (a test index holds a handful of laws); the full check is against laws.db."""
        def status_of(law: str, number: int) -> str | None:
            ref = self.retriever.article(law, number)
            if ref.chunk is None:
                return None if self.retriever.resolve_law(law) else CURRENT
            return (ref.current or ref.chunk).status

        return self.catalogue.validate_articles(status_of)

    # ---- the answer ----------------------------------------------------------------------------
    def answer(self, question: str) -> Answer:
        return self.compose(self.consult(normalize_question(question)))

    def emergency(self, question: str) -> EmergencyRule | None:
        return self.catalogue.emergency(normalize_question(question))

    def consult(self, question: str, retrieved: list[Evidence] | None = None) -> Consultation:
        """Emergency, matched situation(s), the domain gate and the evidence, in the order shown."""
        c = Consultation(question, emergency=self.catalogue.emergency(question))
        if is_vague(question):
            return c
        c.notes = self._law_notes(question)
        retrieved = retrieved if retrieved is not None else self.retriever.retrieve(question, "public", 12)
        retrieved = [e for e in retrieved if e.chunk.audience == "public"]
        vector = self.retriever.index.query_vector(question)
        matches = [m for m in self.situations.match(question, vector, k=8)
                   if self.catalogue.may_lead(m.situation, question)]
        if _few_characters(question):  # an ask and a subject: the subject must be a situation's keyword
            matches = [m for m in matches if m.keyword > 0]
        elif self._says_too_little(question):
            matches = [m for m in matches if m.keyword > 0 or m.wording >= SHORT_WORDING]
        rank = {(e.chunk.title, e.chunk.article_no): n for n, e in reversed(list(enumerate(retrieved)))}
        matches = self.situations.rerank(matches, rank)
        lead: list[Evidence] = []
        rest: list[Evidence] = []
        top = next((m for m in matches if m.phrasing_score >= MATCH_THRESHOLD), None)
        if c.emergency is not None and (top is None or not top.situation.emergency):
            # the emergency's own situation before one that merely shares words with it (a gas leak that
            # left someone unconscious stays the gas leak, though the unconscious raised the rule)
            floor = MATCH_THRESHOLD if top is not None else RELATED_FLOOR
            top = next((m for m in matches if m.situation.emergency == c.emergency.id
                        and m.phrasing_score >= floor), top)
            if top is None:
                # nothing comes close, but the rule that fired tells what the danger is: its own situation
                # answers better than whatever retrieval finds (a teacher asking about a pupil beaten at
                # home gets the domestic-violence articles, not a stray amendment of the criminal law)
                top = self._closest_of_rule(question, vector, c.emergency.id)
        if top is not None:
            c.situation = top.situation
            c.tentative = top.phrasing_score < SURE_MATCH
            if c.emergency is None and top.phrasing_score >= EMERGENCY_MATCH:  # a wording the patterns miss
                c.emergency = self.catalogue.emergency_of(top.situation, question)
            # Runners-up nearly as close add their leading article (lay words often fit two situations);
            # when very close the resident is asked which one is meant.
            near = [m for m in matches if m.situation is not top.situation][:RELATED_COUNT]
            near = [m for m in near if m.phrasing_score >= RELATED_FLOOR and top.score - m.score < RELATED_MARGIN]
            if top.situation.emergency and all(m.situation.emergency for m in near):
                # the danger's own situation says what to do now; what the question is about (debts that drove him to
                # it) is the closest everyday one that would match on its own, however far behind the danger
                topic = next((m for m in matches if not m.situation.emergency and m.phrasing_score >= MATCH_THRESHOLD), None)
                near = near[: RELATED_COUNT - 1] + [topic] if topic is not None else near
            # a danger now is answered, not questioned: no "您问的是…" under the 110 line
            c.alternatives = [m.situation for m in near[:1] if top.score - m.score < CLOSE_MARGIN and c.emergency is None]
            if c.emergency is not None and not top.situation.emergency:
                # a danger now adds the leading article of its own situation (消防法第44条 beside the neighbour's
                # liability for a fire still burning): of the rule's situations the one closest in wording, if
                # close at all (a bleeding head at a feast is the person in danger, not the road accident,
                # though the rule that fired covers both)
                closest = self._closest_of_rule(question, vector, c.emergency.id)
                c.danger = closest.situation if closest is not None else None
                near = [m for m in near if m.situation is not c.danger]
            c.related = [m.situation for m in near]
            c.allowed_laws = self.catalogue.allowed_laws({s.domain for s in (c.situation, *c.related)})
            own = self._situation_articles(c.situation)
            lead = own[:SITUATION_LEAD] + [found for s in ([c.danger] if c.danger else []) + c.related
                                           for found in self._situation_articles(s)[:1]]
            # beyond its leading articles, the situation's own come in the order retrieval ranks them for
            # this question's words (保管人 using the goods: the article on that, before the one on fees)
            rest = sorted(own[SITUATION_LEAD:], key=lambda e: rank.get((e.chunk.title, e.chunk.article_no), len(rank)))
            rest = rest[: self.situation_articles - SITUATION_LEAD]
        elif domains := _domains_of(matches):
            c.allowed_laws = self.catalogue.allowed_laws(domains)
        exact = [e for e in retrieved if e.exact]
        if exact:  # an article named in the question is what was asked for, whatever its domain
            c.allowed_laws = None
        gated = [e for e in retrieved if self._shown(e, c.allowed_laws)]
        if c.situation is None and c.allowed_laws is not None:
            # a domain told only by situations below a match is a guess (合同 in 行纪合同 is not a labour
            # contract): an article that plainly answers the question's words stays, whatever its law
            outside = [e for e in retrieved if not self._shown(e, c.allowed_laws)]
            answering = set(map(id, self._answering(question, outside))) if outside else set()
            gated = [e for e in retrieved if id(e) in answering or self._shown(e, c.allowed_laws)]
        if c.situation is not None:  # beside a situation's own articles, only retrieved ones that come close;
            # beside a danger now, none: what to do now and what the question is about are the situations' own
            # (retrieval on a cry for help finds words, not law: 继承 articles for 不活了)
            gated = [] if c.situation.emergency else self._close_to(question, gated)
        seen: set[str] = set()
        ordered = exact + lead + gated[:1] + rest + gated[1:]  # the best retrieved article before the situation's third
        # an amendment's article is cited with the article it rewrote, not on its own as well
        seen |= {a.chunk_id for e in ordered if (a := self.retriever.amendment_of(e.chunk)) is not None}
        c.evidence = [self._in_force_wording(e) for e in ordered
                      if not (e.chunk.chunk_id in seen or seen.add(e.chunk.chunk_id))]
        return c

    def _closest_of_rule(self, question: str, vector: list[float], rule_id: str) -> SituationMatch | None:
        """Of the situations an emergency rule covers, the one closest in wording, if it reaches DANGER_FLOOR."""
        ranked = self.situations.match(question, vector, k=len(self.catalogue.situations))
        of_rule = [m for m in ranked if m.situation.emergency == rule_id and self.catalogue.may_lead(m.situation, question)]
        closest = max(of_rule, key=lambda m: m.phrasing_score, default=None)
        return closest if closest is not None and closest.phrasing_score >= DANGER_FLOOR else None

    def _in_force_wording(self, evidence: Evidence) -> Evidence:
        """An article rewritten by an amendment newer than the law's text here (刑法 of 2020, 修正案（十二） of
        2023) is quoted and answered from in the amendment's wording."""
        amendment = self.retriever.amendment_of(evidence.chunk)
        if amendment is None or amendment.year <= evidence.chunk.year:
            return evidence
        return replace(evidence, chunk=replace(evidence.chunk, text=_rewritten_text(amendment.text)))

    def _answering(self, question: str, evidence: list[Evidence]) -> list[Evidence]:
        """The articles with a sentence that covers the question well enough to answer it."""
        return [evidence[i] for coverage, i, _ in self.extractive.best_sentences(question, evidence)
                if coverage >= CONCLUSION_THRESHOLD]

    def _close_to(self, question: str, evidence: list[Evidence]) -> list[Evidence]:
        """The articles that share at least a little of the question's wording (an article that merely
        ranked high, 民法典 on how periods are counted for a fraud question, is no help)."""
        terms = focus_terms(question, [])
        synonyms = self.extractive.synonyms(question, terms)
        return [e for e in evidence if self.extractive.coverage(terms, e.chunk.text, synonyms) >= NEIGHBOUR_FLOOR]

    def answer_situation(self, situation_id: str, question: str = "") -> Answer:
        """The answer for one situation chosen by the resident (the “您问的是…” buttons)."""
        situation = self.catalogue.by_id.get(situation_id)
        if situation is None:
            raise KeyError(situation_id)
        c = Consultation(question or situation.name, situation=situation,
                         allowed_laws=self.catalogue.allowed_laws({situation.domain}),
                         evidence=self._situation_articles(situation))
        return self.compose(c)

    def _situation_articles(self, *situations: Situation) -> list[Evidence]:
        found = []
        for situation in situations:
            for ref in situation.articles:
                chunk = self.retriever.article(ref.law, ref.number).current
                if chunk is not None and chunk.audience == "public":
                    found.append(Evidence(chunk, 1.0))
        return found

    @staticmethod
    def _shown(evidence: Evidence, allowed: frozenset[str] | None) -> bool:
        chunk = evidence.chunk
        return chunk.doc_type not in STATUTES or allowed is None or chunk.title in allowed

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

    def _names_the_law(self, question: str) -> bool:
        """Legal or everyday-dispute wording, or a phrase of the colloquial lexicon."""
        return bool(_LEGAL_CUES.search(question) or self.retriever.lexicon.matches(question))

    def _says_too_little(self, question: str) -> bool:
        """Too short for the embedding to tell it from small talk, and no legal word says it is a question."""
        return len(_core(question)) <= SHORT_QUESTION and not self._names_the_law(question)

    def _out_of_scope(self, c: Consultation) -> bool:
        """No legal wording, no lexicon phrase, no situation, nothing retrieved covers it."""
        if c.situation or self._names_the_law(c.question):
            return False
        scored = self.extractive.best_sentences(c.question, c.evidence)
        return not scored or scored[0][0] < COVERAGE_THRESHOLD

    def compose(self, c: Consultation) -> Answer:
        first = [c.emergency.first_line] if c.emergency else []
        if is_vague(c.question):
            text = "\n".join([*first, messages.CLARIFY if not first else messages.EMERGENCY_AFTER])
            return Answer(c.question, "public", text, mode="outreach")
        if not first and self._out_of_scope(c):
            return Answer(c.question, "public", messages.OUT_OF_SCOPE, abstained=True, mode="outreach")
        lines = first + c.notes
        if c.situation is not None:
            shown, conclusion = self._situation_answer(c, lines)
        else:
            shown, conclusion = self._retrieval_answer(c, lines)
        sources = []
        if shown:
            lines.append(messages.OUTREACH_BASIS)
            for n, ev in enumerate(shown, start=1):
                cite = citation(ev.chunk)
                if (amendment := self.retriever.amendment_of(ev.chunk)) is not None:
                    cite += messages.AMENDED_BY.format(law=amendment.title, article=article_label(amendment.article_no))
                lines.append(f"{n}. {cite}：{_shorten(ev.chunk.text)}[{n}]")
                sources.append(source_of(n, ev))
                if amendment is not None:  # the instrument in force is cited beside the consolidated article
                    sources.append(source_of(n, Evidence(amendment, ev.score)))
        lines.append(messages.OUTREACH_STEPS)
        lines += [f"{n}. {step}" for n, step in enumerate(self._steps(c), start=1)]
        lines.append(messages.DISCLAIMER)
        return Answer(c.question, "public", "\n".join(lines), sources, abstained=not conclusion, mode="outreach",
                      choices=[(s.id, s.name) for s in (c.situation, *c.alternatives)] if c.alternatives else [])

    def _situation_answer(self, c: Consultation, lines: list[str]) -> tuple[list[Evidence], bool]:
        """The situation's explanation, each sentence cited to its article; its articles lead the basis."""
        if c.alternatives:
            names = "、".join(f"“{s.name}”" for s in (c.situation, *c.alternatives))
            lines.append(messages.WHICH_SITUATION.format(names=names, first=c.situation.name))
        shown = c.articles[: self.max_articles + (c.danger is not None)]
        position = {(e.chunk.title, e.chunk.article_no): n for n, e in enumerate(shown, start=1)}
        said = []
        for item in c.situation.explanation:
            n = position.get((item.article.law, item.article.number))
            if n is not None:
                said.append(f"{item.text}[{n}]")
        if not said:  # none of its articles is indexed here: answer from retrieval like any question
            return self._retrieval_answer(c, lines)
        # A match that only just cleared the bar is right about a third of the time (measured on our sets): the
        # resident is told which situation the explanation is for, so a wrong one is noticed.
        condition = messages.IF_SITUATION.format(name=c.situation.name) if c.tentative and not c.alternatives else ""
        lines.append(messages.OUTREACH_CONCLUSION + condition + "".join(said))
        return shown, True

    def _retrieval_answer(self, c: Consultation, lines: list[str]) -> tuple[list[Evidence], bool]:
        """No situation: a one-sentence answer only from an article sentence that covers the question;
        otherwise say so and show at most the articles that come close."""
        articles = c.articles[: self.max_articles - 1]
        scored = self.extractive.best_sentences(c.question, articles)
        exact = [i for i, e in enumerate(articles) if e.exact]
        confident = bool(exact) or (bool(scored) and scored[0][0] >= CONCLUSION_THRESHOLD)
        if confident:
            lead = exact[:1] or [scored[0][1]]
            order = lead + [i for i in range(len(articles)) if i not in lead]
            shown = [articles[i] for i in order]
            sentence = next((s for _, i, s in scored if i == lead[0]), articles[lead[0]].chunk.text)
            lines.append(messages.OUTREACH_CONCLUSION + self.extractive.trim(sentence, c.question) + "[1]")
            return shown, True
        # In ranking order (the ranking weighs more than shared words), only those that come close. A long
        # story shares a smaller part of its words with any article, so the bar falls with its length, but
        # an article must still come near the closest one.
        coverage = {i: cov for cov, i, _ in reversed(scored)}
        floor = RELEVANT_FLOOR * min(1.0, LONG_QUESTION_TERMS / max(1, len(focus_terms(c.question, []))))
        floor = max(floor, NEAR_BEST * max(coverage.values(), default=0.0))
        close = [e for i, e in enumerate(articles[:4]) if coverage.get(i, 0.0) >= floor][:3]
        lines.append(messages.OUTREACH_MAYBE if close else messages.OUTREACH_NOTHING)
        return close, False

    def _steps(self, c: Consultation) -> list[str]:
        """The way to help in order of cost: the situation's own, or the generic one (labour disputes go to
        arbitration before court); police first where the situation or an emergency calls for it."""
        if c.situation is not None:
            ids = list(c.situation.help)
        else:
            ids = list(GENERIC_HELP)
            titles = " ".join(e.chunk.title for e in c.articles[:3])
            if any(w in c.question for w in _LABOR) or "劳动" in titles:
                ids[-1] = "labor_arbitration"
        urgent = any(s.urgency != "normal" for s in (c.situation, *c.alternatives) if s is not None)
        if c.emergency or urgent or self.catalogue.is_police_matter(c.question):
            ids = ["police", *(i for i in ids if i != "police")]
        return [self.catalogue.help[i].text for i in ids if i in self.catalogue.help]


def _domains_of(matches: list[SituationMatch]) -> set[str]:
    """The domain of the near situations, when they agree on one (below a match, above the domain bar)."""
    near = [m for m in matches[:3] if m.phrasing_score >= DOMAIN_THRESHOLD]
    domains = {m.situation.domain for m in near}
    return domains if len(domains) == 1 else set()


def _rewritten_text(amendment: str) -> str:
    """将刑法第X条修改为：“…” → the new wording."""
    parts = re.split(r"修改为[：:]", amendment, maxsplit=1)
    return re.sub(r"[“”\"]", "", parts[1]).strip() if len(parts) == 2 else amendment


def _shorten(text: str) -> str:
    text = text.replace("\n", "")
    return text if len(text) <= QUOTE_LIMIT else text[:QUOTE_LIMIT].rstrip("，、；") + "……"
