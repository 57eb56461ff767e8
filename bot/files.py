"""Writing cache files that other processes may read or write at the same moment."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file of this process and thread, then swap it in: a reader never sees half a
    file, and two processes building the same cache at once (the bot and a `fazhi ask`) do not collide."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        partial.write_bytes(data)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def cached_json(folder: Path, name: str, key: str, build: Callable[[], Any]) -> Any:
    """A table derived from the index, kept in `folder` as `{name}-{key}.json` so that a one-shot command
    reads it instead of building it again; built and written when the key changed (the stale copy goes)."""
    path = folder / f"{name}-{key}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    value = build()
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob(f"{name}-*.json"):
        stale.unlink(missing_ok=True)
    write_atomically(path, json.dumps(value, ensure_ascii=False).encode("utf-8"))
    return value
