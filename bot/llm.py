"""LLM mode: fluent answers from any OpenAI-compatible endpoint, grounded in numbered evidence and checked.

The model only phrases what retrieval found. Its output is checked (markers, numbers, cited articles);
an answer that fails is replaced by the extractive one with a short note, and any endpoint failure
(down, timeout, rate limit, garbage) falls back the same way: the question is never lost.
"""

from __future__ import annotations

import html
import logging
import re
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from . import messages
from .answer import Answer, ExtractiveAnswerer, source_of
from .citations import MARKER, check_text
from .config import Settings
from .drafting import DraftPart
from .gongwen import GongwenBlock
from .model import Audience, Chunk
from .outreach import OutreachAnswerer, is_vague
from .retrieval import Evidence
from .staff import StaffAnswerer

log = logging.getLogger(__name__)
PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"
_ENUMERATOR = re.compile(r"(?m)^\s*(?:\d{1,2}[.．、]|[（(]\d{1,2}[）)])")


@cache
def load_prompt(name: str) -> str:
    return (PROMPTS_DIR / f"{name}.md").read_text(encoding="utf-8")


class LLMError(RuntimeError):
    """The endpoint failed or answered with something unusable."""


def make_chat_model(settings: Settings):
    from langchain_openai import ChatOpenAI

    # ChatOpenAI sends max_tokens as max_completion_tokens, which llama.cpp and some other servers ignore.
    return ChatOpenAI(base_url=settings.llm_base_url, api_key=settings.llm_api_key or "none",
                      model=settings.llm_model, temperature=settings.llm_temperature,
                      max_tokens=settings.llm_max_tokens, timeout=settings.llm_timeout, max_retries=1,
                      extra_body={"max_tokens": settings.llm_max_tokens})


def evidence_block(chunks: list[Chunk]) -> str:
    """Evidence as quoted, escaped data: an instruction inside a document stays text, not a command."""
    parts = []
    for n, chunk in enumerate(chunks, start=1):
        source = html.escape(chunk.cite(), quote=True)
        parts.append(f'<evidence n="{n}" source="{source}">\n{html.escape(chunk.text)}\n</evidence>')
    return "\n".join(parts)


class LLMAnswerer:
    def __init__(self, settings: Settings, extractive: ExtractiveAnswerer, outreach: OutreachAnswerer,
                 staff: StaffAnswerer | None = None, chat_model=None) -> None:
        self.settings = settings
        self.extractive = extractive
        self.outreach = outreach
        self.staff = staff
        self.retriever = extractive.retriever
        self._chat_model = chat_model

    @property
    def chat_model(self):
        if self._chat_model is None:
            self._chat_model = make_chat_model(self.settings)
        return self._chat_model

    def _messages(self, question: str, audience: Audience, evidence: list[Evidence]) -> list[BaseMessage]:
        system = load_prompt("resident_answer" if audience == "public" else "staff_answer")
        user = f"{evidence_block([e.chunk for e in evidence])}\n\n<question>{html.escape(question)}</question>"
        return [SystemMessage(system), HumanMessage(user)]

    def generate(self, prompt: list[BaseMessage], on_token: Callable[[str], None] | None = None) -> str:
        """Stream the reply, with a wall-clock deadline (the client timeout only bounds each read)."""
        deadline = time.monotonic() + self.settings.llm_timeout
        pieces: list[str] = []
        finished = False
        try:
            for chunk in self.chat_model.stream(prompt):
                text = chunk.content if isinstance(chunk.content, str) else ""
                if text:
                    pieces.append(text)
                    if on_token:
                        on_token(text)
                if chunk.response_metadata.get("finish_reason"):
                    finished = True
                if time.monotonic() > deadline:
                    raise LLMError("deadline exceeded")
        except LLMError:
            raise
        except Exception as exc:  # openai/langchain raise many types: timeout, HTTP, JSON, ValueError
            raise LLMError(f"{type(exc).__name__}: {exc}") from exc
        reply = "".join(pieces).strip()
        if not reply or not finished:
            raise LLMError("empty or truncated reply")
        return reply

    def answer(self, question: str, audience: Audience, on_token: Callable[[str], None] | None = None) -> Answer:
        if audience == "public":
            # Emergencies are answered by rule, at once: the first line must not wait on a model.
            if self.outreach.emergency(question) or is_vague(question):
                return self.outreach.answer(question)
            consultation = self.outreach.consult(question)
            evidence = consultation.evidence[: self.outreach.max_articles + 2]
            fallback = self.outreach.compose(consultation)
        elif self.staff is not None and self.staff.answers_by_rule(question):
            # Years, header facts and outlines are answered by rule: a model must not blur whose year a
            # figure is, nor paraphrase a 文号.
            return self.staff.answer(question)
        else:
            evidence = self.extractive.gather(question, audience)
            fallback = self.extractive.compose(question, audience, evidence)
        if fallback.abstained:
            return fallback
        try:
            reply = self.generate(self._messages(question, audience, evidence), on_token)
        except LLMError as exc:
            log.warning("LLM failed, using the extractive answer: %s", exc)
            fallback.notes.insert(0, messages.LLM_UNAVAILABLE)
            return fallback
        check = check_text(reply, [e.chunk.text for e in evidence], self.retriever, question)
        if not check.grounded:
            log.warning("LLM answer failed checks: %s", check)
            fallback.notes.insert(0, messages.LLM_FAILED_CHECK)
            return fallback
        used = sorted({int(n) for n in MARKER.findall(reply)})
        answer = Answer(question, audience, reply, [source_of(n, evidence[n - 1]) for n in used], mode="llm")
        if check.unknown_articles:
            answer.notes.append(messages.LLM_UNKNOWN_ARTICLES.format(items="、".join(check.unknown_articles)))
        if check.repealed_articles:
            answer.notes.append(messages.LLM_REPEALED_ARTICLES.format(items="、".join(check.repealed_articles)))
        return answer

    def write_part(self, part: DraftPart, chunks: list[Chunk], year: int) -> tuple[DraftPart, DraftPart] | None:
        """Prose for one part of the annual report, grounded in this year's evidence.

        Returns (clean, review) parts — the review copy keeps [n] markers and lists their sources — or
        None when the endpoint fails or the prose invents a figure (the template part then stays)."""
        outline = "\n".join(b.text for b in part.blocks if b.kind != "table")
        system = load_prompt("draft_section").format(year=year, part=part.title, outline=outline)
        try:
            prose = self.generate([SystemMessage(system), HumanMessage(evidence_block(chunks) or "（无材料）")])
        except LLMError as exc:
            log.warning("LLM draft of %s failed: %s", part.key, exc)
            return None
        allowed = [c.text for c in chunks] + [f"{year - 1} {year} {year + 1}"]
        check = check_text(_ENUMERATOR.sub("", prose), allowed, self.retriever)
        if not check.grounded:
            log.warning("LLM draft of %s failed checks: %s", part.key, check)
            return None
        paragraphs = [p.strip() for p in prose.splitlines() if p.strip()]
        heading = GongwenBlock(kind="h1", text=part.title)
        clean = [GongwenBlock(kind="para", text=MARKER.sub("", p)) for p in paragraphs]
        cited = sorted({int(n) for n in MARKER.findall(prose)})
        review = [GongwenBlock(kind="para", text=p) for p in paragraphs]
        if cited:
            review.append(GongwenBlock(kind="para", text=messages.LLM_DRAFT_REVIEW_SOURCES + "；".join(
                f"[{n}] {chunks[n - 1].cite()}" for n in cited)))
        return DraftPart(part.key, part.title, [heading, *clean]), DraftPart(part.key, part.title, [heading, *review])

    def ping(self) -> str:
        """Reachability for `fazhi health`: lists the endpoint's models, no tokens spent."""
        import httpx

        try:
            response = httpx.get(self.settings.llm_base_url.rstrip("/") + "/models", timeout=5,
                                 headers={"Authorization": f"Bearer {self.settings.llm_api_key}"})
            response.raise_for_status()
        except httpx.HTTPError as exc:
            return f"不可达：{type(exc).__name__}"
        return f"可达（{self.settings.llm_model}）"

    def rewrite_query(self, question: str) -> str:
        """Colloquial question → legal search terms (appended to the question for retrieval)."""
        try:
            terms = self.generate([SystemMessage(load_prompt("query_rewrite")), HumanMessage(question)])
        except LLMError:
            return question
        return f"{question} {terms.splitlines()[0][:100]}"
