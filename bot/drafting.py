"""Draft the annual 法治政府建设情况报告 from last year's report and this year's uploaded documents.

《法治政府建设与责任落实督察工作规定》 fixes what the report contains: the year's measures and results,
shortcomings and their causes, how the principal Party and government leaders fulfilled their duty as
first responsible person, next year's plan, and other matters. Last year's report already says what this
year was meant to do, so the skeleton needs no LLM: last year's plan items become the headings of this
year's results, its problems a checklist, and every figure only the staff can know a visible 【待填】
placeholder showing last year's value. This year's documents (doc_type report/other, year == the report
year) are retrieved for each heading and cited; a cross-year table says which plan items they cover.
"""

from __future__ import annotations

import calendar
import logging
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from . import messages
from .figures import MetricDataError, YearValues
from .gongwen import GongwenAnnex, GongwenBlock, GongwenDocument, write_gongwen_docx
from .index import KnowledgeIndex, SearchFilter
from .loaders import DocumentError, extract_text
from .model import Chunk
from .numerals import int_to_cn
from .report_parser import OfficialDocument, ReportSection, parse_official_document
from .retrieval import Retriever
from .sensitivity import SensitivityWarning, scan
from .store import DocumentRecord, StatedFigure
from .text import sentences, tokenize

log = logging.getLogger(__name__)

PART_KEYS = ("results", "problems", "leaders", "plans", "other")
ALL_PARTS = "all"
# Last year's parts are recognised by their heading words, not their position, checked in this order:
# the plan heading (2025年法治政府建设工作计划) also says 工作.
_PART_WORDS = (
    ("plans", ("计划", "打算", "思路")),
    ("leaders", ("第一责任人", "负责人")),
    ("problems", ("问题", "不足")),
    ("other", ("其他",)),
    ("results", ("成效", "工作", "举措")),
)
EVIDENCE_TYPES = ("report", "other")
_INFO_PATH = "文件信息"  # the loader's header chunk: metadata, not evidence
_CANDIDATES = 6
_MAX_FINDINGS = 3
# Cosine similarity (IDF weights from last year's report, heading words boosted) between a plan item and a
# text. Calibrated on the 2024 report: a results subsection that carries out a plan item scores 0.27–0.65
# against it and 0.10 at most against the others.
_HEADING_BOOST = 3.0
MATCH_THRESHOLD = 0.2
DONE_THRESHOLD = 0.3
PARTLY_THRESHOLD = 0.12
_EXCERPT_CHARS = 120
_INTENT_CHARS = 60

_UNITS = ("人次", "批次", "场次", "件次", "户次", "平方米", "公里", "小时", "元", "亩", "件", "名", "个", "次",
          "份", "篇", "项", "人", "户", "起", "家", "处", "条", "场", "期", "批", "部", "所", "天", "座", "套",
          "台", "本", "册", "%", "％")
_FIGURE = re.compile(rf"(?<![\d.第])(\d+(?:\.\d+)?)(余?[万亿]?(?:{'|'.join(_UNITS)}))")
_CLAUSE_BREAKS = "，。；：、！？,;:\n"
_LABEL_HEAD = re.compile(r"^(?:\d{4}年度?|全年|全镇|全市|今年|其中|共计|累计|共|对|在|将|通过)+")
_LABEL_TAIL = re.compile(r"(?:达到|达|为|共计|累计|共|约|近|超过)+$")
_LABEL_AFTER_END = re.compile(r"[^\u4e00-\u9fa5“”]|[均都已并]")
_LABEL_CHARS = 14
_ANNUAL_REPORT = re.compile(r"法治政府建设.{0,8}报告")
_MARKERS = re.compile(r"[零〇一二两三四五六七八九十百]+、|（[零〇一二两三四五六七八九十百]+）|\d{1,2}\.|（\d{1,2}）")


class DraftError(ValueError):
    """The draft cannot be made; the text is what to tell the user."""


@dataclass(frozen=True)
class Figure:
    """A number with its unit in last year's text, e.g. 69384件 (label 便民服务事项)."""

    value: str
    unit: str
    label: str
    start: int
    end: int

    @property
    def text(self) -> str:
        return self.value + self.unit


@dataclass(frozen=True)
class Finding:
    """A chunk of this year's documents that speaks to a heading, with how closely it does."""

    chunk: Chunk
    score: float
    excerpt: str


@dataclass(frozen=True)
class CrossCheckRow:
    """One plan item of last year's report against this year's evidence."""

    item: str
    status: str  # done | partly | none
    source: str = ""
    score: float = 0.0

    @property
    def label(self) -> str:
        return messages.DRAFT_STATUS[self.status]


@dataclass
class DraftPart:
    key: str
    title: str
    blocks: list[GongwenBlock]


@dataclass
class Draft:
    """The whole draft as data; `render_text` and `write_docx` present it, the CLI and bot deliver it."""

    year: int
    previous: OfficialDocument
    title: str
    issuer: str
    issuer_mark: str | None
    doc_number: str | None
    signer: str | None
    recipient: str
    date_text: str
    parts: list[DraftPart]
    crosscheck: list[CrossCheckRow]
    warnings: list[SensitivityWarning]
    evidence: dict[str, list[Finding]] = field(default_factory=dict)  # by heading of last year's report
    preamble: list[str] = field(default_factory=list)
    closing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. a part the LLM could not write
    annex: list[GongwenBlock] = field(default_factory=list)  # last year's and this year's figures side by side
    review: Draft | None = None  # LLM mode: the copy with [n] markers and their sources

    @property
    def sources(self) -> list[str]:
        """Titles of this year's documents the draft cites."""
        return sorted({f.chunk.title for found in self.evidence.values() for f in found})

    def blocks(self) -> list[GongwenBlock]:
        """The 正文 in reading order: opening paragraph, the parts, closing paragraph."""
        return [*map(_para, self.preamble), *(b for p in self.parts for b in p.blocks), *map(_para, self.closing)]


# ---- last year's report ----------------------------------------------------------------------------
def annual_reports(index: KnowledgeIndex) -> list[DocumentRecord]:
    """Indexed annual 法治政府建设 reports, newest year (then newest upload) first; a 工作要点 notice or a
    普法 summary uploaded as this year's evidence is not one."""
    records = [r for r in index.store.documents() if r.doc_type == "report" and _ANNUAL_REPORT.search(r.title)]
    return sorted(records, key=lambda r: (r.year, r.ingested_at), reverse=True)


def default_year(index: KnowledgeIndex) -> int:
    """The year after the newest annual report: the one the township has to write next."""
    reports = annual_reports(index)
    if not reports:
        raise DraftError(messages.DRAFT_NO_REPORTS)
    return reports[0].year + 1


def find_previous_report(index: KnowledgeIndex, year: int) -> OfficialDocument:
    """Last year's annual report, re-read from its file (or rebuilt from its chunks if the file is gone)."""
    record = next((r for r in annual_reports(index) if r.year == year - 1), None)
    if record is None:
        raise DraftError(messages.DRAFT_NO_PREVIOUS.format(year=year - 1, next_year=year))
    path = Path(record.source)
    try:
        text = extract_text(path.read_bytes(), path.suffix)
    except (OSError, DocumentError) as exc:
        log.info("rebuilding %s from its chunks: %s", record.title, exc)
        text = text_from_chunks(record, index.store.chunks_of(record.doc_id))
    return parse_official_document(text, fallback_title=record.title)


def text_from_chunks(record: DocumentRecord, chunks: list[Chunk]) -> str:
    """Lay a report's chunks out as the text they were cut from, so the parser reads the same outline."""
    info = record.info
    lines = [f"{record.issuer}文件" if record.issuer else "", info.get("doc_number", ""),
             f"签发人：{info['signer']}" if info.get("signer") else "", record.title,
             f"{info['recipient']}：" if info.get("recipient") else ""]
    emitted: set[str] = set()
    for chunk in chunks:
        if chunk.section_path == _INFO_PATH:
            continue
        markers = _MARKERS.findall(chunk.section_path)
        headings = chunk.heading.split(" / ") if chunk.heading else []
        headings = [""] * (len(markers) - len(headings)) + headings
        for depth, (marker, heading) in enumerate(zip(markers, headings, strict=False)):
            path = "".join(markers[: depth + 1])
            if path not in emitted and heading:
                emitted.add(path)
                lines.append(marker + heading)
        lines.append(chunk.text)
    lines.append(info.get("issue_date", ""))
    return "\n\n".join(line for line in lines if line)


def previous_parts(doc: OfficialDocument) -> dict[str, ReportSection]:
    """Last year's top-level sections by part key, recognised by their heading words."""
    parts: dict[str, ReportSection] = {}
    for section in doc.sections:
        key = next((k for k, words in _PART_WORDS if any(w in section.heading for w in words)), None)
        if key and key not in parts:
            parts[key] = section
    return parts


# ---- figures and placeholders ------------------------------------------------------------------------
def figures(text: str) -> list[Figure]:
    """Counts, amounts and rates with their unit and what they count; years and ordinals are not figures."""
    found: list[Figure] = []
    for m in _FIGURE.finditer(text):
        clause_start = max(text.rfind(ch, 0, m.start()) for ch in _CLAUSE_BREAKS) + 1
        previous = found[-1] if found and found[-1].end > clause_start else None
        label = _label(text[previous.end if previous else clause_start:m.start()], text[m.end():])
        label = label or (previous.label if previous else "")
        found.append(Figure(m.group(1), m.group(2), label, m.start(), m.end()))
    return found


def _label(before: str, after: str) -> str:
    """What a number counts: the words before it (办理便民服务事项69384件), or after it when those
    say nothing (全镇37名行政执法人员)."""
    before = _LABEL_TAIL.sub("", _LABEL_HEAD.sub("", before))
    after = _LABEL_AFTER_END.split(after, maxsplit=1)[0]
    if len(before) >= 3 or not after:
        return before[-_LABEL_CHARS:]
    return after[:_LABEL_CHARS]


def placeholder(figure: Figure, year: int) -> str:
    return messages.DRAFT_FIGURE_PLACEHOLDER.format(year=year, previous=year - 1, value=figure.text)


def filled(figure: Figure, found: StatedFigure, year: int) -> str:
    """This year's value from the material in last year's figure's place, cited and marked for checking."""
    return messages.DRAFT_FIGURE_FILLED.format(value=found.text, source=found.cite(), previous=year - 1,
                                               last=figure.text)


def template(text: str, year: int, values: YearValues | None = None) -> str:
    """Last year's wording for this year: each figure becomes this year's value where the material states
    it (``values``), else its placeholder; last year's year becomes this one."""
    pieces: list[str] = []
    cursor = 0
    for figure in figures(text):
        found = values.fill(text, figure.start) if values else None
        pieces += [_shift_year(text[cursor:figure.start], year),
                   filled(figure, found, year) if found else placeholder(figure, year)]
        cursor = figure.end
    pieces.append(_shift_year(text[cursor:], year))
    return "".join(pieces)


def _shift_year(text: str, year: int) -> str:
    return re.sub(rf"(?<!\d){year - 1}(?=\s*年)", str(year), text)


def figure_template(text: str, year: int, values: YearValues | None = None) -> str:
    """Only the clauses that carry figures, from the first figure's clause to its sentence end (templated
    whole, so a figure's metric is read in its full sentence; the cut keeps the length before it)."""
    kept = []
    for sentence in sentences(text):
        found = figures(sentence)
        if found:
            start = max(sentence.rfind(ch, 0, found[0].start) for ch in "，,；") + 1
            kept.append(template(sentence, year, values)[start:])
    if kept:
        return "".join(kept)
    return messages.DRAFT_SITUATION_PLACEHOLDER.format(year=year, previous=year - 1,
                                                       text=_shorten(text, _INTENT_CHARS))


def _shorten(text: str, limit: int) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---- similarity ------------------------------------------------------------------------------------------
def _terms(text: str) -> list[str]:
    return [t for t in tokenize(text) if len(t) >= 2 and not t.replace(".", "").isdigit()]


class TermWeights:
    """IDF over last year's report sections: words every section uses (法治, 加强) say little about which
    plan item a text is about; words one item uses (普法, 短视频) say a lot."""

    def __init__(self, doc: OfficialDocument) -> None:
        texts = [f"{s.heading}。{s.text}" for s in doc.all_sections()]
        self._df = Counter(t for text in texts for t in set(_terms(text)))
        self._n = len(texts)

    def vector(self, text: str, heading: str = "") -> Counter[str]:
        vector: Counter[str] = Counter()
        for term in _terms(text):
            vector[term] += self._idf(term)
        for term in set(_terms(heading)):
            vector[term] += _HEADING_BOOST * self._idf(term)
        return vector

    def _idf(self, term: str) -> float:
        return math.log((self._n + 1) / (self._df.get(term, 0) + 0.5))


def similarity(a: Counter[str], b: Counter[str]) -> float:
    dot = sum(weight * b.get(term, 0.0) for term, weight in a.items())
    norm = math.sqrt(sum(w * w for w in a.values()) * sum(w * w for w in b.values()))
    return dot / norm if norm else 0.0


def part_title(key: str, year: int) -> str:
    """The heading of a part in the report for ``year``, e.g. 四、2026年法治政府建设工作计划."""
    return messages.DRAFT_PART_TITLES[key].format(year=year, next_year=year + 1)


# ---- drafting ----------------------------------------------------------------------------------------------
class _Drafter:
    """Builds each part from last year's report and this year's findings, looking each heading up once."""

    def __init__(self, previous: OfficialDocument, retriever: Retriever, year: int,
                 values: YearValues | None = None) -> None:
        self.retriever = retriever
        self.year = year
        self.values = values
        self.parts = previous_parts(previous)
        self.weights = TermWeights(previous)
        self.plan_items = self._children("plans")
        self.found: dict[str, list[Finding]] = {}  # by heading of last year's report

    def _children(self, key: str) -> list[ReportSection]:
        section = self.parts.get(key)
        return section.children if section else []

    def findings(self, section: ReportSection) -> list[Finding]:
        """This year's chunks that speak to a heading of last year's report, best first."""
        if section.heading not in self.found:
            target = self.weights.vector(section.text, section.heading)
            flt = SearchFilter(audience="staff", doc_types=EVIDENCE_TYPES, year=self.year)
            hits = self.retriever.retrieve(f"{section.heading}。{section.text}", "staff", _CANDIDATES, flt)
            chunks = [hit.chunk for hit in hits if hit.chunk.section_path != _INFO_PATH]
            scored = [(similarity(target, self.weights.vector(f"{c.heading}。{c.text}")), c) for c in chunks]
            found = [Finding(chunk, score, self._excerpt(chunk.text, target))
                     for score, chunk in sorted(scored, key=lambda sc: -sc[0]) if score >= PARTLY_THRESHOLD]
            self.found[section.heading] = found[:_MAX_FINDINGS]
        return self.found[section.heading]

    def _excerpt(self, text: str, target: Counter[str]) -> str:
        """The sentences of a chunk closest to the heading, in their order, within the excerpt length."""
        ranked = sorted(sentences(text), key=lambda s: -similarity(target, self.weights.vector(s)))
        chosen: list[str] = []
        for sentence in ranked:
            if chosen and sum(map(len, chosen)) + len(sentence) > _EXCERPT_CHARS:
                break
            chosen.append(sentence)
        return _shorten("".join(sorted(chosen, key=text.find)), _EXCERPT_CHARS)

    def evidence_blocks(self, section: ReportSection) -> list[GongwenBlock]:
        found = self.findings(section)
        if not found:
            return [_para(messages.DRAFT_NO_EVIDENCE.format(year=self.year))]
        return [_para(messages.DRAFT_EVIDENCE_LINE.format(year=self.year, excerpt=f.excerpt,
                                                         citation=f.chunk.cite())) for f in found]

    def crosscheck(self) -> list[CrossCheckRow]:
        rows = []
        for item in self.plan_items:
            found = self.findings(item)
            best = found[0] if found else None
            status = "none" if best is None else "done" if best.score >= DONE_THRESHOLD else "partly"
            rows.append(CrossCheckRow(item.heading, status, best.chunk.cite() if best else "",
                                      best.score if best else 0.0))
        return rows

    # ---- parts ----
    def part(self, key: str) -> DraftPart:
        build = {"results": self.results, "problems": self.problems, "leaders": self.leaders,
                 "plans": self.plans, "other": self.other}[key]
        title = part_title(key, self.year)
        return DraftPart(key, title, [GongwenBlock(kind="h1", text=title), *build()])

    def results(self) -> list[GongwenBlock]:
        """One heading per plan item: the intent, this year's evidence, last year's figures to update."""
        leaves = [s for s in self.parts["results"].walk() if s.paragraphs] if "results" in self.parts else []
        matched = self._match_leaves(leaves)
        blocks: list[GongwenBlock] = []
        for number, item in enumerate(self.plan_items, start=1):
            blocks.append(_heading("h2", number, item.heading))
            intent = messages.DRAFT_PLAN_INTENT.format(previous=self.year - 1,
                                                       text=_shorten(item.text, _INTENT_CHARS))
            blocks += [_para(intent), *self.evidence_blocks(item)]
            blocks += [_para(messages.DRAFT_REFERENCE_LINE.format(
                previous=self.year - 1, heading=leaf.heading, text=figure_template(leaf.text, self.year, self.values)))
                for leaf in leaves if matched[leaf.path] is item]
        rest = [leaf for leaf in leaves if matched[leaf.path] is None]
        if rest:
            blocks.append(_heading("h2", len(self.plan_items) + 1, messages.DRAFT_OTHER_WORK))
            for number, leaf in enumerate(rest, start=1):
                blocks += [GongwenBlock(kind="h3", text=f"{number}.{leaf.heading}"),
                           _para(figure_template(leaf.text, self.year, self.values))]
        return blocks + [self.crosscheck_table()]

    def _match_leaves(self, leaves: list[ReportSection]) -> dict[str, ReportSection | None]:
        """Each of last year's results subsections goes under the plan item it carried out, if any."""
        plans = [(item, self.weights.vector(item.text, item.heading)) for item in self.plan_items]
        matched: dict[str, ReportSection | None] = {}
        for leaf in leaves:
            vector = self.weights.vector(leaf.text, leaf.heading)
            scored = [(similarity(v, vector), i) for i, (_, v) in enumerate(plans)]
            score, best = max(scored, default=(0.0, -1))
            matched[leaf.path] = plans[best][0] if score >= MATCH_THRESHOLD else None
        return matched

    def crosscheck_table(self) -> GongwenBlock:
        rows = [[r.item, r.label, r.source or "—"] for r in self.crosscheck()]
        return GongwenBlock(kind="table", text=messages.DRAFT_CROSSCHECK_CAPTION.format(previous=self.year - 1),
                            rows=[messages.DRAFT_CROSSCHECK_HEADER, *rows])

    def problems(self) -> list[GongwenBlock]:
        """Last year's problems as a checklist, each with whatever this year's documents say about it."""
        blocks: list[GongwenBlock] = []
        for number, problem in enumerate(self._children("problems"), start=1):
            blocks += [_heading("h2", number, problem.heading),
                       _para(messages.DRAFT_PROBLEM_LAST_YEAR.format(previous=self.year - 1,
                                                                     text=_shorten(problem.text, _INTENT_CHARS))),
                       _para(messages.DRAFT_PROBLEM_CHECK), *self.evidence_blocks(problem)]
        return blocks + [_para(messages.DRAFT_NEW_PROBLEMS.format(year=self.year))]

    def leaders(self) -> list[GongwenBlock]:
        """Last year's structure and wording, every figure a placeholder."""
        section = self.parts.get("leaders")
        if section is None:
            return [_para(messages.DRAFT_LEADERS_MISSING.format(year=self.year))]
        blocks = [_para(template(p, self.year, self.values)) for p in section.paragraphs]
        for number, child in enumerate(section.children, start=1):
            blocks += self._outline(child, 2, number)
        return blocks

    def _outline(self, section: ReportSection, level: int, number: int) -> list[GongwenBlock]:
        marker = f"（{int_to_cn(number)}）" if level == 2 else f"{number}." if level == 3 else f"（{number}）"
        blocks = [GongwenBlock(kind=f"h{min(level, 4)}", text=marker + section.heading)] if section.heading else []
        blocks += [_para(template(p, self.year, self.values)) for p in section.paragraphs]
        for child_number, child in enumerate(section.children, start=1):
            blocks += self._outline(child, level + 1, child_number)
        return blocks

    def plans(self) -> list[GongwenBlock]:
        """Next year's headings are the staff's to write; last year's items and how they went are prompts."""
        heading = messages.DRAFT_PLAN_HEADING.format(year=self.year + 1)
        blocks: list[GongwenBlock] = []
        for number, row in enumerate(self.crosscheck(), start=1):
            blocks += [_heading("h2", number, heading),
                       _para(messages.DRAFT_PLAN_PROMPT.format(previous=self.year - 1, item=row.item,
                                                               status=row.label))]
        return blocks or [_heading("h2", 1, heading)]

    def other(self) -> list[GongwenBlock]:
        return [_para(messages.DRAFT_OTHER_MATTERS)]


def _heading(kind: str, number: int, text: str) -> GongwenBlock:
    return GongwenBlock(kind=kind, text=f"（{int_to_cn(number)}）{text}")


def _para(text: str) -> GongwenBlock:
    return GongwenBlock(kind="para", text=text)


def build_draft(index: KnowledgeIndex, retriever: Retriever, year: int | None = None,
                part: str = ALL_PARTS) -> Draft:
    """The draft report for ``year`` (default: the next one due), whole or one part (see PART_KEYS)."""
    if part != ALL_PARTS and part not in PART_KEYS:
        raise DraftError(messages.DRAFT_UNKNOWN_PART.format(part=part, choices="、".join((ALL_PARTS, *PART_KEYS))))
    year = year or default_year(index)
    previous = find_previous_report(index, year)
    notes: list[str] = []
    try:
        values = YearValues.load(index.store, year)
    except MetricDataError as exc:  # the draft still comes, with placeholders only
        values = None
        notes.append(messages.DRAFT_METRICS_ERROR.format(error=exc))
    drafter = _Drafter(previous, retriever, year, values)
    whole = part == ALL_PARTS
    parts = [drafter.part(key) for key in (PART_KEYS if whole else (part,))]
    # Evidence (and its warnings) is what the requested parts show; the cross-check, needed for the
    # summary of any part, may look up more.
    evidence = {heading: found for heading, found in drafter.found.items() if found}
    preamble = [template(p, year, values) for p in previous.preamble] if whole else []
    closing = [template(p, year, values) for p in previous.closing] if whole else []
    return Draft(
        year=year, previous=previous, **_header(previous, year), parts=parts, crosscheck=drafter.crosscheck(),
        warnings=_warnings(parts, [f for found in evidence.values() for f in found]), evidence=evidence,
        preamble=preamble, closing=closing, notes=notes + _filled_notes(values),
        annex=_comparison_annex(values) if values and (whole or part == "results") else [],
    )


def _filled_notes(values: YearValues | None) -> list[str]:
    """The summary's line saying how many values were filled in for checking, then each with its source."""
    if not values or not values.filled:
        return []
    return [messages.DRAFT_FILLED_SUMMARY.format(count=len(values.filled)),
            *(messages.DRAFT_FILLED_LINE.format(metric=f.metric, value=f.text, source=f.cite()) for f in values.filled)]


def _comparison_annex(values: YearValues) -> list[GongwenBlock]:
    """The annex table: each metric's value last year and this year with their sources, and the change."""
    rows = values.comparison()
    if not rows:
        return []

    def cell(found: list[StatedFigure], missing: str) -> str:
        return "；".join(messages.DRAFT_COMPARISON_VALUE.format(value=f.text, source=f.cite()) for f in found) or missing

    header = [h.format(previous=values.year - 1, year=values.year) for h in messages.DRAFT_COMPARISON_HEADER]
    return [GongwenBlock(kind="table", rows=[header, *([r.metric, cell(r.last, messages.FIGURES_EMPTY_CELL),
                                                        cell(r.this, messages.DRAFT_COMPARISON_MISSING), r.change]
                                                       for r in rows)])]


def _header(previous: OfficialDocument, year: int) -> dict[str, str | None]:
    """文号, 签发人 and date are the clerk's to fill; issuer and 主送 stay as last year."""
    issuer = previous.issuer or previous.title.split("关于")[0]
    prefix = re.match(r"(.+?)[〔\[［(（]\d{4}", previous.doc_number)
    number = (messages.DRAFT_DOC_NUMBER.format(prefix=prefix.group(1), year=year + 1) if prefix
              else messages.DRAFT_DOC_NUMBER_UNKNOWN)
    mark = previous.issuer_mark or (f"{issuer}文件" if issuer else None)
    return {"title": messages.DRAFT_TITLE.format(issuer=issuer, year=year), "issuer": issuer,
            "issuer_mark": mark, "doc_number": number if mark else None,
            "signer": messages.DRAFT_SIGNER if mark else None, "recipient": previous.recipient,
            "date_text": messages.DRAFT_DATE.format(year=year + 1)}


def _warnings(parts: list[DraftPart], found: list[Finding]) -> list[SensitivityWarning]:
    """Sensitive items where the clerk must remove them (the draft), then those only in the evidence,
    which an LLM or the clerk may still quote."""
    warnings = [w for part in parts for where, block in _located(part)
                for w in scan(_block_text(block), where)]
    seen = {(w.kind, w.item) for w in warnings}
    warnings += [w for f in found for w in scan(f.chunk.text, f.chunk.cite()) if (w.kind, w.item) not in seen]
    return list(dict.fromkeys(warnings))


def _located(part: DraftPart) -> list[tuple[str, GongwenBlock]]:
    """Each block with the heading it sits under, e.g. 一、（四）完善矛盾纠纷化解机制."""
    where, located = part.title, []
    for block in part.blocks:
        if block.kind == "h2":
            where = part.title.split("、", 1)[0] + "、" + block.text
        located.append((where, block))
    return located


# ---- output ----------------------------------------------------------------------------------------------
def render_text(draft: Draft) -> list[str]:
    """Plain text for chat: a summary first (with the sensitivity warnings), then one message per part."""
    placeholders = sum("\n".join(map(_block_text, p.blocks)).count("【") for p in draft.parts)
    counts = Counter(row.status for row in draft.crosscheck)
    summary = messages.DRAFT_SUMMARY.format(
        title=draft.title, previous_year=draft.year - 1, year=draft.year, sources=len(draft.sources),
        placeholders=placeholders, done=counts["done"], partly=counts["partly"], none=counts["none"])
    lines = [summary, *draft.notes, messages.DRAFT_WARNINGS_TITLE.format(count=len(draft.warnings)) if draft.warnings
             else messages.DRAFT_NO_WARNINGS]
    lines += [messages.DRAFT_WARNING_LINE.format(kind=messages.SENSITIVITY_KINDS[w.kind], excerpt=w.excerpt,
                                                 location=w.location) for w in draft.warnings]
    texts = ["\n".join(map(_block_text, part.blocks)) for part in draft.parts]
    texts[0] = "\n".join([*draft.preamble, texts[0]])
    texts[-1] = "\n".join([texts[-1], *draft.closing, *_annex_lines(draft)])
    return ["\n".join(lines), *texts]


def _annex_lines(draft: Draft) -> list[str]:
    if not draft.annex:
        return []
    return [messages.DRAFT_ANNEX_LINE.format(title=_annex_title(draft)),
            *(_block_text(block).lstrip("\n") for block in draft.annex)]  # the title is the caption


def _annex_title(draft: Draft) -> str:
    return messages.DRAFT_ANNEX_TITLE.format(previous=draft.year - 1, year=draft.year)


def _block_text(block: GongwenBlock) -> str:
    if block.kind != "table":
        return block.text
    return "\n".join([block.text, *("｜".join(row) for row in block.rows)])


def to_gongwen(draft: Draft) -> GongwenDocument:
    """The draft as a 公文; its 附注 tells whoever opens the file that it is not finished."""
    return GongwenDocument(
        issuer_mark=draft.issuer_mark, doc_number=draft.doc_number, signer=draft.signer, title=draft.title,
        recipient=draft.recipient or None, blocks=draft.blocks(), closing_org=draft.issuer,
        date_text=draft.date_text, notes=[messages.DRAFT_DOCX_NOTE],
        annexes=[GongwenAnnex(title=_annex_title(draft), blocks=draft.annex)] if draft.annex else [],
    )


def write_docx(draft: Draft, path: Path) -> Path:
    """The draft as a GB/T 9704 .docx, placeholders highlighted, for the clerk to finish in Word or WPS."""
    return write_gongwen_docx(to_gongwen(draft), path)


# ---- deadlines -----------------------------------------------------------------------------------------
def next_deadlines(today: date, report_due: date, publish_due: date) -> list[tuple[date, str]]:
    """The next 报送 (to the level above) and 公开 dates on or after ``today``, soonest first.

    Only month and day of the configured dates count; the report due in year N is about year N-1.
    """
    dues = [(_next_on_or_after(today, report_due), messages.DEADLINE_REPORT),
            (_next_on_or_after(today, publish_due), messages.DEADLINE_PUBLISH)]
    return sorted((due, label.format(year=due.year - 1)) for due, label in dues)


def _next_on_or_after(today: date, due: date) -> date:
    def on(year: int) -> date:  # 29 February falls on the 28th in other years
        return date(year, due.month, min(due.day, calendar.monthrange(year, due.month)[1]))

    return on(today.year) if on(today.year) >= today else on(today.year + 1)
