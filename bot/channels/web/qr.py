"""The public address as a QR code PNG, for 普法 posters (admin page and `fazhi web --qr`)."""

from __future__ import annotations

import io
from pathlib import Path

import segno


def qr_png(url: str, scale: int = 12) -> bytes:
    """Error correction Q: a poster on a village notice board gets dirty and torn."""
    buffer = io.BytesIO()
    segno.make(url, error="q", micro=False).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def write_qr(url: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(qr_png(url))
    return path
