"""Web chat channel: residents at `/` (no login), staff at `/staff` (accounts from `fazhi user`)."""

from __future__ import annotations

from ...config import Settings
from .app import create_app
from .qr import qr_png, write_qr


def serve(settings: Settings) -> None:
    """`fazhi web`: uvicorn on FAZHI_WEB_HOST:FAZHI_WEB_PORT, behind a reverse proxy in production
    (forwarded addresses are trusted only from FAZHI_WEB_FORWARDED_ALLOW_IPS)."""
    import uvicorn

    from ...assistant import Assistant

    settings = settings.for_questions()
    assistant = Assistant(settings)
    assistant.warm_up()
    uvicorn.run(create_app(settings, assistant), host=settings.web_host, port=settings.web_port,
                proxy_headers=True, forwarded_allow_ips=settings.web_forwarded_allow_ips, log_level="info")


__all__ = ["create_app", "qr_png", "serve", "write_qr"]
