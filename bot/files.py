"""Writing cache files that other processes may read or write at the same moment."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file of this process and thread, then swap it in: a reader never sees half a
    file, and two processes building the same cache at once (the bot and a `fazhi ask`) do not collide."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        partial.write_bytes(data)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def cached_file(folder: Path, name: str, key: str, suffix: str, build: Callable[[], T],
                dump: Callable[[T], bytes], load: Callable[[bytes], T],
                unreadable: tuple[type[Exception], ...] = (ValueError,)) -> T:
    """A table derived from inputs that rarely change, kept in `folder` as `{name}-{key}{suffix}` so that a
    one-shot command reads it instead of building it again. Built and written when the key changed (the
    stale copies go, never another process's file still being written) or when it cannot be read back
    (`unreadable`: cut short, an older shape)."""
    path = folder / f"{name}-{key}{suffix}"
    try:
        return load(path.read_bytes())
    except (OSError, *unreadable):
        pass
    value = build()
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob(f"{name}-*{suffix}"):
        stale.unlink(missing_ok=True)
    write_atomically(path, dump(value))
    return value


def cached_json(folder: Path, name: str, key: str, build: Callable[[], Any]) -> Any:
    """`cached_file` for a JSON value."""
    return cached_file(folder, name, key, ".json", build,
                       lambda value: json.dumps(value, ensure_ascii=False).encode("utf-8"), json.loads)
