"""The hybrid ranking as a LangChain retriever, so chains and agents use the same evidence as the bot.

Kept apart from `bot.retrieval`: importing LangChain's retriever base pulls in its tracing stack (~0.5 s),
which a one-shot `fazhi ask` should not pay.
"""

from __future__ import annotations

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from .model import Audience
from .retrieval import Evidence, Retriever


def to_document(evidence: Evidence) -> Document:
    meta = {**evidence.chunk.metadata(), "score": evidence.score, "citation": evidence.chunk.cite()}
    return Document(page_content=evidence.chunk.text, metadata=meta)


class HybridRetriever(BaseRetriever):
    """LangChain face of `Retriever`; residents' audience keeps internal documents out, as everywhere."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Retriever
    audience: Audience = "public"
    k: int = 8

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [to_document(e) for e in self.retriever.retrieve(query, self.audience, self.k)]
