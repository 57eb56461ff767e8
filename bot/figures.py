"""Figures by year: the numbers the township's own documents state (便民服务事项办理量 69384件, 调解成功件数
62件), each under one metric name whatever the wording, with the year it is about and where it was said.

They are extracted once at ingest (`record_figures`, called by `KnowledgeIndex.ingest_documents` for reports
and material, never for laws) into the chunk store's `figures` table, and leave with their document. Metric
names and their wordings are data, `knowledge/metrics.toml`, so a reviewer can read and correct them; each
document remembers which version of that file (and of these rules) its figures came from, and is extracted
again on the next read after a correction (`sync_figures`). The table answers `fazhi figures` and lets a
draft fill last year's placeholders with this year's values (`YearValues`).
"""

from __future__ import annotations

import hashlib
import logging
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import messages
from .model import Chunk, ParsedDocument
from .store import ChunkStore, StatedFigure

log = logging.getLogger(__name__)

METRICS_FILE = Path(__file__).resolve().parent.parent / "knowledge" / "metrics.toml"
# The township's own reports and material (staff.OWN_TYPES, drafting.EVIDENCE_TYPES); laws state no figures.
TOWNSHIP_TYPES = ("report", "other")
_RULES_VERSION = "1"  # part of every digest: a change to the rules below re-extracts stored figures
_KEYS = frozenset({"name", "units", "wordings", "context", "note"})
_INFO_PATH = "文件信息"  # the loader's header chunk: 文号 and dates, no figures
_SENTENCE = re.compile(r"[^。！？；\n]+")
_CLAUSE_BREAK = re.compile(r"[，。；：、！？;:]|,(?!\d{3})")
# Plans and targets are not what happened: a plan part of a report, or a clause that says 计划/力争.
_PLAN_HEADING = re.compile(r"计划|打算|思路|展望")
_PLANNED = re.compile(r"计划|力争|预计")
# The year a sentence says a figure is about (2023年，…); not 较2023年 (a comparison) or 2020年以来.
_YEAR = re.compile(r"(?<![\d较比与])((?:19|20)\d{2})\s*年(?!以来|至今|起)")
_WAN = 10000


class MetricDataError(ValueError):
    """metrics.toml cannot be used as written; the message names the file and the entry."""


@dataclass(frozen=True)
class Metric:
    """One figure the township reports, and the ways its documents say it."""

    name: str
    units: tuple[str, ...]
    wordings: tuple[re.Pattern[str], ...]
    context: tuple[re.Pattern[str], ...] = ()

    def distance(self, before: str, after: str, unit: str, sentence: str) -> tuple[int, int, int] | None:
        """How close this metric's wording is to a number: before it in its clause (nearest last match),
        else just after it (全镇37名行政执法人员); None when it does not apply."""
        if unit not in self.units or (self.context and not any(c.search(sentence) for c in self.context)):
            return None
        ends = [(len(before) - m.end(), -len(m.group())) for p in self.wordings for m in p.finditer(before)]
        if ends:
            return (0, *min(ends))
        starts = [(m.start(), -len(m.group())) for p in self.wordings if (m := p.search(after))]
        return (1, *min(starts)) if starts else None


@dataclass(frozen=True)
class MetricCatalogue:
    metrics: tuple[Metric, ...]
    digest: str  # of the file and the rules: stored with each document's figures
    number: re.Pattern[str]  # a number and a catalogue unit: 69384件, 6,500份, 200余人次, 1.2万人

    def names(self) -> list[str]:
        return [m.name for m in self.metrics]

    def metric(self, before: str, after: str, unit: str, sentence: str) -> Metric | None:
        ranked = [(d, i) for i, m in enumerate(self.metrics)
                  if (d := m.distance(before, after, unit, sentence)) is not None]
        return self.metrics[min(ranked)[1]] if ranked else None


@dataclass(frozen=True)
class Spotted:
    """A catalogue figure in a text: its metric, value, the characters it spans and the year it names."""

    metric: str
    value: float
    text: str  # as shown: 200余人次, 6500份
    unit: str
    start: int
    end: int
    sentence: str
    year: int | None


# ---- metrics.toml --------------------------------------------------------------------------------------
def load_metrics(path: Path | None = None) -> MetricCatalogue:
    """Read and check the metric list (default: the bundled METRICS_FILE); any problem is refused with the
    file and the entry named."""
    path = path or METRICS_FILE
    try:
        raw = path.read_bytes()
        data = tomllib.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise MetricDataError(messages.METRICS_UNREADABLE.format(file=path.name, error=exc)) from exc
    entries = data.get("metric")
    if not isinstance(entries, list) or not entries:
        raise MetricDataError(messages.METRICS_EMPTY.format(file=path.name))
    metrics: list[Metric] = []
    for number, entry in enumerate(entries, start=1):
        metric = _metric(entry, f"{path.name} [[metric]] #{number}")
        if metric.name in {m.name for m in metrics}:
            raise MetricDataError(messages.METRICS_DUPLICATE.format(where=f"{path.name} [{metric.name}]"))
        metrics.append(metric)
    named = {u for m in metrics for u in m.units}
    units = sorted(named | {"％"} if "%" in named else named, key=len, reverse=True)  # 人次 before 人
    number_re = re.compile(rf"(?<![\d.,第])(\d{{1,3}}(?:,\d{{3}})+|\d+(?:\.\d+)?)\s*(余|多)?\s*(万)?\s*"
                           rf"({'|'.join(map(re.escape, units))})")
    digest = hashlib.sha256(raw + _RULES_VERSION.encode()).hexdigest()[:16]
    return MetricCatalogue(tuple(metrics), digest, number_re)


def _metric(entry: object, where: str) -> Metric:
    if not isinstance(entry, dict):
        raise MetricDataError(messages.METRICS_FIELD.format(where=where, key="name"))
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise MetricDataError(messages.METRICS_FIELD.format(where=where, key="name"))
    where = f"{where.split(' ', 1)[0]} [{name}]"
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise MetricDataError(messages.METRICS_UNKNOWN_KEY.format(where=where, keys="、".join(unknown),
                                                                  allowed="、".join(sorted(_KEYS))))
    units = _strings(entry, "units", where)
    return Metric(name.strip(), tuple(units), _patterns(_strings(entry, "wordings", where), where),
                  _patterns(_strings(entry, "context", where, required=False), where))


def _strings(entry: dict, key: str, where: str, required: bool = True) -> list[str]:
    value = entry.get(key, None if required else [])
    if not isinstance(value, list) or required and not value or not all(v and isinstance(v, str) for v in value):
        raise MetricDataError(messages.METRICS_FIELD.format(where=where, key=key))
    return value


def _patterns(texts: list[str], where: str) -> tuple[re.Pattern[str], ...]:
    try:
        return tuple(re.compile(t) for t in texts)
    except re.error as exc:
        raise MetricDataError(messages.METRICS_BAD_PATTERN.format(where=where, error=exc)) from exc


# ---- extraction ------------------------------------------------------------------------------------------
def spot(text: str, catalogue: MetricCatalogue) -> list[Spotted]:
    """Every figure of a catalogue metric in a text, in order. A number's label is the words before it in
    its clause (or after it); a number right after another shares its label (来访171批次193人次)."""
    text = text.replace("％", "%")  # same length: spans stay valid for the caller's text
    found: list[Spotted] = []
    for sentence in _SENTENCE.finditer(text):
        body = sentence.group()
        previous_end, previous_label = 0, ""
        for m in catalogue.number.finditer(body):
            clause = max((b.end() for b in _CLAUSE_BREAK.finditer(body, 0, m.start())), default=0)
            before = body[max(clause, previous_end):m.start()]
            if not before.strip() and previous_end:
                before = previous_label
            clause_end = _CLAUSE_BREAK.search(body, m.end())
            after = re.split(r"\d", body[m.end():clause_end.start() if clause_end else len(body)], maxsplit=1)[0]
            previous_end, previous_label = m.end(), before
            unit = "%" if m.group(4) == "％" else m.group(4)
            metric = catalogue.metric(before, after, unit, body)
            if metric is not None and not _PLANNED.search(body[clause:m.start()]):
                years = _YEAR.findall(body, 0, m.start())
                found.append(_spotted(m, metric, unit, sentence.start(), int(years[-1]) if years else None))
    return found


def _spotted(m: re.Match[str], metric: Metric, unit: str, offset: int, year: int | None) -> Spotted:
    """200余人次 → 200.0 shown as written; 6,500份 → 6500份; 1.2万人 → 12000.0 shown as 1.2万人."""
    digits, about, wan = m.group(1).replace(",", ""), m.group(2) or "", m.group(3) or ""
    return Spotted(metric.name, float(digits) * (_WAN if wan else 1), digits + about + wan + unit, unit,
                   offset + m.start(), offset + m.end(), m.string.strip(), year)


def extract(chunks: Iterable[Chunk], catalogue: MetricCatalogue) -> list[StatedFigure]:
    """The figures of a document's chunks; the year is the sentence's (2023年，…), else the heading's, else
    the document's. Plan parts (四、2025年…工作计划) state targets, not figures, and are skipped."""
    figures: list[StatedFigure] = []
    for chunk in chunks:
        if chunk.section_path == _INFO_PATH or _PLAN_HEADING.search(chunk.heading):
            continue
        heading_years = _YEAR.findall(chunk.heading)
        default = int(heading_years[-1]) if heading_years else chunk.year
        figures += [StatedFigure(chunk.doc_id, s.metric, s.year or default, s.value, s.text, s.unit,
                                 chunk.title, chunk.year, chunk.section_path, chunk.heading, chunk.chunk_id,
                                 s.sentence)
                    for s in spot(chunk.text, catalogue)]
    return figures


def record_figures(store: ChunkStore, doc: ParsedDocument) -> None:
    """The ingest hook: a township document's figures, stored beside its chunks. A broken metrics.toml
    does not stop an ingest; the document is extracted on the first read after it is fixed."""
    try:
        catalogue = load_metrics()
    except MetricDataError as exc:
        log.error("figures of %s not extracted: %s", doc.title, exc)
        return
    store.put_figures(doc.doc_id, extract(doc.chunks, catalogue), catalogue.digest)


def sync_figures(store: ChunkStore, catalogue: MetricCatalogue) -> int:
    """Extract the township documents whose figures do not come from this catalogue (ingested before it
    existed, or it was corrected since); returns how many were extracted."""
    digests = store.figure_digests()
    stale = [r for r in store.documents()
             if r.doc_type in TOWNSHIP_TYPES and digests.get(r.doc_id) != catalogue.digest]
    for record in stale:
        store.put_figures(record.doc_id, extract(store.chunks_of(record.doc_id), catalogue), catalogue.digest)
    return len(stale)


def by_metric_and_year(figures: Iterable[StatedFigure]) -> dict[tuple[str, int], list[StatedFigure]]:
    """Each metric's values in each year: one figure per value stated, the one from the year's own document
    first (a 2025 report's look back at 2024 yields to the 2024 report), then in the order stated."""
    cells: dict[tuple[str, int], dict[tuple[float, str], StatedFigure]] = {}
    for figure in sorted(figures, key=lambda f: f.doc_year != f.year):
        cells.setdefault((figure.metric, figure.year), {}).setdefault((figure.value, figure.unit), figure)
    return {key: list(values.values()) for key, values in cells.items()}


# ---- the table ---------------------------------------------------------------------------------------------
@dataclass
class FigureTable:
    """Metrics × years, each cell the distinct values stated, each value with its source."""

    metrics: list[str]
    years: list[int]
    cells: dict[tuple[str, int], list[StatedFigure]]

    def lines(self) -> list[str]:
        """The table as text, sources as numbered notes below it (`fazhi figures`)."""
        if not self.metrics:
            return [messages.FIGURES_NONE]
        notes: dict[str, int] = {}
        rows = [[messages.FIGURES_METRIC, *(_year_label(y) for y in self.years)]]
        for metric in self.metrics:
            row = [metric]
            for year in self.years:
                values = [f"{f.text}[{notes.setdefault(f.cite(), len(notes) + 1)}]"
                          for f in self.cells.get((metric, year), [])]
                row.append("；".join(values) or messages.FIGURES_EMPTY_CELL)
            rows.append(row)
        sources = [messages.FIGURES_SOURCE_LINE.format(n=n, source=source) for source, n in notes.items()]
        return ["｜".join(row) for row in rows] + [messages.FIGURES_SOURCES, *sources]


def _year_label(year: int) -> str:
    return messages.FIGURES_YEAR.format(year=year) if year else messages.FIGURES_YEAR_UNKNOWN


def figure_table(store: ChunkStore, metric: str | None = None, years: Sequence[int] = (),
                 path: Path | None = None) -> FigureTable:
    """The stored figures, brought up to date with metrics.toml, of metrics whose name contains ``metric``
    and of ``years`` (all by default), metrics in the catalogue's order."""
    catalogue = load_metrics(path)
    sync_figures(store, catalogue)
    rows = [f for f in store.figures()
            if (not metric or metric in f.metric) and (not years or f.year in years)]
    order = {name: i for i, name in enumerate(catalogue.names())}
    return FigureTable(sorted({f.metric for f in rows}, key=lambda m: order.get(m, len(order))),
                       sorted({f.year for f in rows}), by_metric_and_year(rows))


# ---- this year's values for a draft ------------------------------------------------------------------------
@dataclass(frozen=True)
class Comparison:
    """One metric in last year and this year, for the draft's annex."""

    metric: str
    last: list[StatedFigure]
    this: list[StatedFigure]

    @property
    def change(self) -> str:
        """This year against last, computed from the two cited values when each year has one of one unit."""
        if len(self.last) != 1 or len(self.this) != 1:
            return messages.FIGURES_EMPTY_CELL
        last, this = self.last[0], self.this[0]
        if last.unit != this.unit:  # 场次 and 场 may be one thing, 人次 and 人 are not: the clerk decides
            return messages.FIGURE_CHANGE_UNITS.format(last=last.unit, this=this.unit)
        delta = this.value - last.value
        if delta == 0:
            return messages.FIGURE_CHANGE_SAME
        if last.unit == "%":
            template = messages.FIGURE_CHANGE_UP_POINTS if delta > 0 else messages.FIGURE_CHANGE_DOWN_POINTS
            return template.format(amount=_number(abs(delta)))
        template = messages.FIGURE_CHANGE_UP if delta > 0 else messages.FIGURE_CHANGE_DOWN
        percent = f"{delta / last.value * 100:+.1f}%" if last.value else "—"
        return template.format(amount=_number(abs(delta)) + last.unit, percent=percent)


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


@dataclass
class YearValues:
    """The figures of a draft's year and the year before, by metric: fills last year's placeholders with
    this year's value where the material states exactly one, and remembers each fill for the clerk."""

    catalogue: MetricCatalogue
    year: int
    by_metric: dict[tuple[str, int], list[StatedFigure]]
    filled: list[StatedFigure] = field(default_factory=list)

    @classmethod
    def load(cls, store: ChunkStore, year: int, path: Path | None = None) -> YearValues:
        catalogue = load_metrics(path)
        sync_figures(store, catalogue)
        stated = by_metric_and_year(f for f in store.figures() if f.year in (year - 1, year))
        return cls(catalogue, year, stated)

    def fill(self, text: str, start: int) -> StatedFigure | None:
        """This year's value for the figure of last year's ``text`` that begins at ``start``, if its metric
        has exactly one value this year."""
        spotted = next((s for s in spot(text, self.catalogue) if s.start == start), None)
        values = self.by_metric.get((spotted.metric, self.year), []) if spotted else []
        if len(values) != 1:
            return None
        self.filled.append(values[0])
        return values[0]

    def comparison(self) -> list[Comparison]:
        """Every metric stated in either year, in the catalogue's order."""
        last, this = self.year - 1, self.year
        return [Comparison(name, self.by_metric.get((name, last), []), self.by_metric.get((name, this), []))
                for name in self.catalogue.names()
                if (name, last) in self.by_metric or (name, this) in self.by_metric]
