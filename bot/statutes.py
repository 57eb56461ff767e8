"""Parse laws and regulations in the LawRefBook Markdown format into articles.

`# 标题`, promulgation lines, `<!-- INFO END -->`, then `## 第一章 …` / `### 第一节 …` headings and
articles that open with `第N条`; every paragraph and item of an article stays with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .numerals import CN_NUMERAL, cn_to_int

ARTICLE_START = re.compile(rf"^第({CN_NUMERAL}|\d+)条(?:之({CN_NUMERAL}))?[\s　]*")
_CHAPTER = re.compile(rf"^第{CN_NUMERAL}[章编分]")
_SECTION = re.compile(rf"^第{CN_NUMERAL}节")
_VERSION_DATE = re.compile(r"\((\d{4}-\d{2}-\d{2})\)$")


@dataclass(frozen=True)
class Article:
    number: int
    label: str
    text: str
    chapter: str = ""
    section: str = ""


@dataclass
class Statute:
    title: str
    info: str
    articles: list[Article]
    version_date: str = ""


def parse_statute_markdown(markdown: str, file_stem: str = "") -> Statute:
    """Split a LawRefBook file into articles; headings give each article its chapter and section."""
    lines = markdown.splitlines()
    title = next((ln[2:].strip() for ln in lines if ln.startswith("# ")), "")
    m = _VERSION_DATE.search(file_stem)
    version_date = m.group(1) if m else ""
    if not title:
        title = _VERSION_DATE.sub("", file_stem)
    try:
        body_start = next(i for i, ln in enumerate(lines) if "<!-- INFO END -->" in ln) + 1
    except StopIteration:
        body_start = 0
    info = "\n".join(ln for ln in lines[:body_start] if ln.strip() and not ln.startswith(("# ", "<!--")))
    articles: list[Article] = []
    chapter = section = ""
    current: list[str] = []
    label, number = "", 0

    def flush() -> None:
        if current:
            articles.append(Article(number, label, "\n".join(current).strip(), chapter, section))

    for raw in lines[body_start:]:
        line = raw.strip()
        if not line:
            continue
        heading = line.lstrip("#").strip()
        if line.startswith("#") or _CHAPTER.match(line) and len(line) < 40 and "条" not in line[:6]:
            if _SECTION.match(heading):
                section = heading
            elif _CHAPTER.match(heading):
                chapter, section = heading, ""
            continue
        if m := ARTICLE_START.match(line):
            flush()
            number = cn_to_int(m.group(1))
            label = m.group(0).strip()
            current = [line[m.end():]]
        elif current:
            current.append(line)
    flush()
    return Statute(title=title, info=info, articles=articles, version_date=version_date)
