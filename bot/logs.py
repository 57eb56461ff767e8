"""Logging set-up that never writes secrets: the bot token and LLM key are masked in every record
(httpx logs request URLs, and Telegram puts the token in the URL)."""

from __future__ import annotations

import logging

from .config import Settings


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            for secret in self.secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, None
        return True


def configure_logging(settings: Settings, verbose: bool = False) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_redaction(settings)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def install_redaction(settings: Settings) -> None:
    """Attach the filter to every root handler, so records from any library pass through it."""
    redact = RedactSecrets([settings.telegram_token, settings.llm_api_key])
    for handler in logging.getLogger().handlers:
        handler.filters = [f for f in handler.filters if not isinstance(f, RedactSecrets)]
        handler.addFilter(redact)
