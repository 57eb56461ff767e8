"""An Answer as blocks for the page: the same text every channel shows, split where the reader needs
structure (emergency line, 【简单回答】, 【法律依据】 with each article's full text, help steps, sources).

Only layout is decided here; nothing is added to or dropped from what the Assistant answered. The HTML
comes from the `_answer.html` Jinja macro with autoescape on, so answer text can never become markup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from markupsafe import Markup, escape

from ... import messages
from ...answer import Answer, Source

BlockKind = Literal["emergency", "note", "text", "conclusion", "basis", "steps", "disclaimer", "sources"]
_EMERGENCY = "【紧急】"
_DISCLAIMER = "【提示】"
_NUMBERED = re.compile(r"^(\d+)\.\s*(.*)$")
_TRAILING_MARK = re.compile(r"\[(\d+)\]$")
_PHONE = re.compile(r"(?<!\d)(110|120|119|122|12348)(?!\d)")


@dataclass
class Item:
    """One numbered line; `source` is the article or section it quotes, when it quotes one."""

    text: str
    source: Source | None = None


@dataclass
class Block:
    kind: BlockKind
    text: str = ""
    heading: str = ""
    items: list[Item] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)


def answer_blocks(answer: Answer) -> list[Block]:
    """Split the rendered answer into blocks; a numbered line under 【法律依据】 gets its source."""
    by_n: dict[int, Source] = {}
    for source in answer.sources:  # an amended article's amendment shares its number: the article leads
        by_n.setdefault(source.n, source)
    blocks: list[Block] = [Block("note", n) for n in answer.notes]
    current: Block | None = None
    for line in answer.text.split("\n"):
        if not line.strip():
            continue
        numbered = _NUMBERED.match(line)
        if current is not None and current.kind in ("basis", "steps") and numbered:
            text = numbered.group(2)
            mark = _TRAILING_MARK.search(text) if current.kind == "basis" else None
            source = by_n.get(int(mark.group(1))) if mark else None
            current.items.append(Item(text, source))
            continue
        current = _block_of(line, blocks[-1] if blocks else None)
        if not blocks or current is not blocks[-1]:
            blocks.append(current)
    if answer.lists_sources:
        heading = messages.NEAREST_SOURCES if answer.abstained else messages.SOURCES_HEADING
        blocks.append(Block("sources", heading=heading,
                            items=[Item(s.line, s) for s in answer.sources]))
    return blocks


def _block_of(line: str, previous: Block | None) -> Block:
    """The block a line starts, or the previous plain-text block when it simply continues it."""
    if line.startswith(_EMERGENCY):
        return Block("emergency", line.removeprefix(_EMERGENCY), phones=list(dict.fromkeys(_PHONE.findall(line))))
    if line == messages.OUTREACH_BASIS:
        return Block("basis", heading=line.strip("【】"))
    if line == messages.OUTREACH_STEPS:
        return Block("steps", heading=line.strip("【】"))
    if line.startswith(messages.OUTREACH_CONCLUSION):
        return Block("conclusion", line.removeprefix(messages.OUTREACH_CONCLUSION),
                     heading=messages.OUTREACH_CONCLUSION.strip("【】"))
    if line.startswith(_DISCLAIMER):
        return Block("disclaimer", line.removeprefix(_DISCLAIMER), heading=_DISCLAIMER.strip("【】"))
    if previous is not None and previous.kind == "text":
        previous.text += "\n" + line
        return previous
    return Block("text", line)


def cite_marks(text: str) -> Markup:
    """Escape, then set citation markers [n] as superscripts (digits only, so nothing else can pass)."""
    return Markup(re.sub(r"\[(\d+)\]", r'<sup class="ref">[\1]</sup>', str(escape(text))))
