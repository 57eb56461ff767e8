"""Audit log of every question and answer (for 督察 review), with feedback, CSV export and retention.

User ids are stored pseudonymously (keyed hash), so the log can be handed over without exposing who asked.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
import time
from datetime import datetime
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS exchanges (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL, channel TEXT, role TEXT, user TEXT, question TEXT,
    answer TEXT, sources TEXT, feedback TEXT DEFAULT ''
);
CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, value TEXT);
"""


class AuditLog:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()
        row = self._conn.execute("SELECT value FROM secrets WHERE name = 'pseudonym_key'").fetchone()
        if row is None:
            key = secrets.token_hex(32)
            with self._conn:
                self._conn.execute("INSERT INTO secrets VALUES ('pseudonym_key', ?)", (key,))
        else:
            key = row[0]
        self._key = bytes.fromhex(key)

    def pseudonym(self, user_id: int | str) -> str:
        return hmac.new(self._key, str(user_id).encode(), hashlib.sha256).hexdigest()[:16]

    def record(self, channel: str, role: str, user_id: int | str, question: str, answer: str,
               sources: list[str]) -> int:
        with self._lock, self._conn:
            cur = self._conn.execute(
                "INSERT INTO exchanges (at, channel, role, user, question, answer, sources) VALUES (?,?,?,?,?,?,?)",
                (time.time(), channel, role, self.pseudonym(user_id), question, answer,
                 json.dumps(sources, ensure_ascii=False)),
            )
            return int(cur.lastrowid)

    def set_feedback(self, exchange_id: int, value: str) -> bool:
        with self._lock, self._conn:
            cur = self._conn.execute("UPDATE exchanges SET feedback = ? WHERE id = ?", (value, exchange_id))
            return cur.rowcount == 1

    def get(self, exchange_id: int) -> dict | None:
        self._conn.row_factory = sqlite3.Row
        try:
            row = self._conn.execute("SELECT * FROM exchanges WHERE id = ?", (exchange_id,)).fetchone()
        finally:
            self._conn.row_factory = None
        return dict(row) if row else None

    def latest_id(self) -> int:
        return self._conn.execute("SELECT COALESCE(MAX(id), 0) FROM exchanges").fetchone()[0]

    def rows_since(self, exchange_id: int) -> list[dict]:
        """Exchanges recorded after `exchange_id` (ids grow), e.g. those of one benchmark round."""
        cursor = self._conn.execute("SELECT id, user, question, answer FROM exchanges WHERE id > ? ORDER BY id",
                                    (exchange_id,))
        return [{"id": r[0], "user": r[1], "question": r[2], "answer": r[3]} for r in cursor]

    def count(self) -> int:
        return self._conn.execute("SELECT COUNT(*) FROM exchanges").fetchone()[0]

    def export_csv(self, path: Path, start: datetime | None = None, end: datetime | None = None) -> int:
        low = start.timestamp() if start else 0.0
        high = end.timestamp() if end else time.time() + 1
        rows = self._conn.execute(
            "SELECT id, at, channel, role, user, question, answer, sources, feedback FROM exchanges "
            "WHERE at >= ? AND at < ? ORDER BY id", (low, high)).fetchall()
        with path.open("w", newline="", encoding="utf-8-sig") as handle:
            writer = csv.writer(handle)
            writer.writerow(["编号", "时间", "渠道", "身份", "用户（化名）", "问题", "回答", "来源", "反馈"])
            for r in rows:
                writer.writerow([r[0], datetime.fromtimestamp(r[1]).isoformat(timespec="seconds"), *r[2:]])
        return len(rows)

    def purge(self, retention_days: int) -> int:
        with self._lock, self._conn:
            cur = self._conn.execute("DELETE FROM exchanges WHERE at < ?", (time.time() - retention_days * 86400,))
            return cur.rowcount
