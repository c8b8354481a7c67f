"""Who is calling: named client tokens, read from a users file, and what each may see.

A users file has one user a line, ``name token [admin]``; lines starting with ``#``
are comments and blank lines are skipped::

    # name   token (16 characters or more)   role
    alice    4f3c0e...
    bob      9a1d77...
    ops      c0ffee...                       admin

A user sees and acts on only the jobs and batches they submitted and the services they
published (a published service is callable by everyone); an admin sees everything. The
single ``--token-file`` of older heads is one admin user named ``admin``. Tokens are
compared in constant time and appear in no message: errors name the line, never its text.
"""

from __future__ import annotations

import hmac
import os
import re
import stat
from dataclasses import dataclass

NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{0,31}$")
MIN_TOKEN_CHARS = 16
ADMIN = "admin"
MAKE_TOKEN = "python -c 'import secrets; print(secrets.token_hex(32))'"


class UsersFileError(ValueError):
    """A users file the head refuses to start with; the message says what to fix."""


@dataclass(frozen=True)
class User:
    """An authenticated caller: ``name`` is recorded as the owner of what they create."""

    name: str
    admin: bool = False

    def may_see(self, owner: str) -> bool:
        """May this user see (and act on) something owned by ``owner``?"""
        return self.admin or owner == self.name


# Without client tokens there is no identity: every caller may do everything, as before.
NOBODY = User("", admin=True)


class Users:
    """Client tokens by user; ``find`` names the user a token belongs to."""

    def __init__(self, users: list[tuple[str, User]]):
        self._entries = [(token.encode(), user) for token, user in users]

    @classmethod
    def single_admin(cls, token: str) -> Users:
        """The one ``--token-file`` token, as an admin named ``admin``."""
        return cls([(token, User(ADMIN, admin=True))])

    @classmethod
    def from_file(cls, path: str) -> Users:
        """Read a users file; refuse one others can read or with any bad line."""
        check_private(path)
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsersFileError(f"cannot read the users file {path}: {exc}") from None
        return cls(parse_users(lines, path))

    def find(self, token: str) -> User | None:
        """The user holding ``token``, or None; every entry is compared, in constant time."""
        given, found = token.encode(), None
        for expected, user in self._entries:
            if hmac.compare_digest(given, expected) and found is None:
                found = user
        return found

    def tokens(self) -> list[str]:
        """Every client token (to check none is also the worker token)."""
        return [token.decode() for token, _ in self._entries]

    def derived(self, derive) -> Users:
        """The same users, each holding ``derive(token)`` instead (e.g. a cookie value)."""
        return Users([(derive(token.decode()), user) for token, user in self._entries])

    def __len__(self) -> int:
        return len(self._entries)


def check_private(path: str) -> None:
    """Refuse a secrets file that its group or other users can read or write."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise UsersFileError(f"cannot read the users file {path}: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        raise UsersFileError(f"the users file {path} is not a regular file")
    if mode & 0o077:
        raise UsersFileError(f"the users file {path} holds tokens but is open to other users "
                             f"(mode {stat.S_IMODE(mode):03o}); run: chmod 600 {path}")


def parse_users(lines: list[str], path: str) -> list[tuple[str, User]]:
    """``(token, User)`` for each user line; a bad line raises, naming its number."""
    users: list[tuple[str, User]] = []
    names: dict[str, int] = {}
    tokens: dict[str, int] = {}
    for number, line in enumerate(lines, 1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        where = f"{path} line {number}"
        token, user = _parse_line(fields, where)
        if user.name in names:
            raise UsersFileError(f"{where}: user {user.name} is already on line "
                                 f"{names[user.name]}; each name once")
        if token in tokens:
            raise UsersFileError(f"{where}: this token is already on line {tokens[token]}; "
                                 f"give each user their own token ({MAKE_TOKEN})")
        names[user.name], tokens[token] = number, number
        users.append((token, user))
    if not users:
        raise UsersFileError(f"the users file {path} has no users: write one 'name token "
                             f"[admin]' line per user")
    return users


def _parse_line(fields: list[str], where: str) -> tuple[str, User]:
    # The line's text is never quoted back: a token may be on it.
    if len(fields) not in (2, 3):
        raise UsersFileError(f"{where}: expected 'name token [admin]', found {len(fields)} "
                             f"fields")
    name, token = fields[0], fields[1]
    if not NAME_RE.match(name):
        raise UsersFileError(f"{where}: the user name is not valid: use 1 to 32 of A-Z a-z "
                             f"0-9 . _ -, starting with a letter")
    if len(token) < MIN_TOKEN_CHARS:
        raise UsersFileError(f"{where}: the token of {name} is shorter than "
                             f"{MIN_TOKEN_CHARS} characters; make one with: {MAKE_TOKEN}")
    if len(fields) == 3 and fields[2] != ADMIN:
        raise UsersFileError(f"{where}: the third field of {name} may only be 'admin'")
    return token, User(name, admin=len(fields) == 3)
