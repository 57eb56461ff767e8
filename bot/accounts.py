"""Staff accounts for the web channel: argon2 password hashes in SQLite, roles, lockout after failures.

Accounts are created by an admin from the CLI (`fazhi user add`), never from the web, so a browser can
only log in, never grant itself a role. `version` grows on every password change or removal, and a
session remembers the version it was made with: a changed password ends all older sessions.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from . import messages

AccountRole = Literal["staff", "admin"]
ROLES: tuple[AccountRole, ...] = ("staff", "admin")
MIN_PASSWORD_CHARS = 8

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    username TEXT PRIMARY KEY, role TEXT NOT NULL, hash TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 1,
    failures INTEGER NOT NULL DEFAULT 0, locked_until REAL NOT NULL DEFAULT 0, created REAL, last_login REAL
);
"""


class AccountError(ValueError):
    """A refused account change; the message is for the admin at the terminal."""


@dataclass(frozen=True)
class Account:
    username: str
    role: AccountRole
    version: int
    locked_until: float = 0.0
    last_login: float | None = None


@dataclass(frozen=True)
class LoginResult:
    account: Account | None
    locked_for: int = 0  # seconds left when the account is locked


class AccountStore:
    """Thread-safe: the web server verifies passwords in worker threads."""

    def __init__(self, path: Path, max_failures: int = 5, lockout_seconds: int = 900) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._hasher = PasswordHasher()
        self._dummy = self._hasher.hash("not-a-real-password")  # equal work for unknown names
        self.max_failures = max_failures
        self.lockout_seconds = lockout_seconds

    # ---- administration (CLI) ----------------------------------------------------------------
    def add(self, username: str, password: str, role: AccountRole = "staff") -> Account:
        username = self._check_name(username)
        if role not in ROLES:
            raise AccountError(messages.ACCOUNT_BAD_ROLE.format(roles="/".join(ROLES)))
        digest = self._hasher.hash(self._check_password(password))
        with self._lock, self._conn:
            if self._row(username):
                raise AccountError(messages.ACCOUNT_EXISTS.format(username=username))
            self._conn.execute("INSERT INTO accounts (username, role, hash, created) VALUES (?,?,?,?)",
                               (username, role, digest, time.time()))
        return self.get(username)  # type: ignore[return-value]

    def remove(self, username: str) -> bool:
        with self._lock, self._conn:
            return self._conn.execute("DELETE FROM accounts WHERE username = ?", (username,)).rowcount == 1

    def set_password(self, username: str, password: str) -> None:
        """Also unlocks the account and ends its existing sessions (version + 1)."""
        digest = self._hasher.hash(self._check_password(password))
        with self._lock, self._conn:
            cur = self._conn.execute("UPDATE accounts SET hash = ?, version = version + 1, failures = 0, "
                                     "locked_until = 0 WHERE username = ?", (digest, username))
            if cur.rowcount != 1:
                raise AccountError(messages.USER_NOT_FOUND.format(username=username))

    def list(self) -> list[Account]:
        rows = self._conn.execute("SELECT username FROM accounts ORDER BY username").fetchall()
        return [a for (name,) in rows if (a := self.get(name))]

    def get(self, username: str) -> Account | None:
        row = self._row(username)
        if row is None:
            return None
        return Account(row["username"], row["role"], row["version"], row["locked_until"], row["last_login"])

    # ---- login (web) -------------------------------------------------------------------------
    def verify(self, username: str, password: str) -> LoginResult:
        """Check a login; `max_failures` wrong passwords in a row lock the account for a while. A locked
        account is refused even with the right password, so guessing on does not help."""
        row = self._row(username)
        now = time.time()
        if row is None:
            self._matches(self._dummy, password)
            return LoginResult(None)
        if row["locked_until"] > now:
            return LoginResult(None, int(row["locked_until"] - now) + 1)
        if not self._matches(row["hash"], password):
            with self._lock, self._conn:
                failures = row["failures"] + 1
                locked = now + self.lockout_seconds if failures >= self.max_failures else 0
                self._conn.execute("UPDATE accounts SET failures = ?, locked_until = ? WHERE username = ?",
                                   (0 if locked else failures, locked, username))
            return LoginResult(None, self.lockout_seconds if locked else 0)
        with self._lock, self._conn:
            self._conn.execute("UPDATE accounts SET failures = 0, locked_until = 0, last_login = ? "
                               "WHERE username = ?", (now, username))
            if self._hasher.check_needs_rehash(row["hash"]):
                self._conn.execute("UPDATE accounts SET hash = ? WHERE username = ?",
                                   (self._hasher.hash(password), username))
        return LoginResult(self.get(username))

    def current(self, username: str, version: int) -> Account | None:
        """The account a session belongs to, if it still exists with the same password version."""
        account = self.get(username)
        return account if account is not None and account.version == version else None

    # ---- helpers -----------------------------------------------------------------------------
    def _matches(self, digest: str, password: str) -> bool:
        try:
            return self._hasher.verify(digest, password)
        except (VerificationError, InvalidHashError):
            return False

    def _row(self, username: str) -> sqlite3.Row | None:
        cursor = self._conn.cursor()
        cursor.row_factory = sqlite3.Row
        return cursor.execute("SELECT * FROM accounts WHERE username = ?", (username,)).fetchone()

    @staticmethod
    def _check_name(username: str) -> str:
        username = username.strip()
        if not username or len(username) > 64 or any(ch.isspace() for ch in username):
            raise AccountError(messages.ACCOUNT_BAD_NAME)
        return username

    @staticmethod
    def _check_password(password: str) -> str:
        if len(password) < MIN_PASSWORD_CHARS:
            raise AccountError(messages.ACCOUNT_SHORT_PASSWORD.format(chars=MIN_PASSWORD_CHARS))
        return password
