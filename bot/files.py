"""Writing cache files that other processes may read or write at the same moment."""

from __future__ import annotations

import os
import threading
from pathlib import Path


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file of this process and thread, then swap it in: a reader never sees half a
    file, and two processes building the same cache at once (the bot and a `fazhi ask`) do not collide."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        partial.write_bytes(data)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
