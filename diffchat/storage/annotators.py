"""Who may vote, and who may see the results: optional annotator tokens and an admin token.

Annotator tokens, one a line, the token first and the annotator's name after it
(blank lines and lines starting with # are skipped):

    3fQ9x2LkVb7Tz1Wd  alice
    Hq8nR4sY0cJm6PaE  bob smith

Each token is at least 12 characters with no spaces (`python -c "import secrets; print(secrets.token_urlsafe(12))"`
makes one). With tokens on, an annotator types their token instead of a name and votes under the
name it stands for; the Results tab and exports need the admin token. Without tokens, anyone types
a name (today's open campaign) and the results are open unless an admin token is set.
"""
from __future__ import annotations

import hmac
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InvalidInput
from .votes import clean_name

TOKEN_MIN = 12


@dataclass(frozen=True)
class Annotators:
    tokens: dict[str, str] = field(default_factory=dict)  # token -> annotator name
    admin_token: str | None = None

    @property
    def required(self) -> bool:
        """Annotators must give a token (not just a name)."""
        return bool(self.tokens)

    @property
    def results_locked(self) -> bool:
        return self.admin_token is not None

    def name_for(self, token: str | None) -> str | None:
        """The annotator a token stands for, or None; compares every token in constant time."""
        given = (token or "").strip().encode()
        found = None
        for known, name in self.tokens.items():
            if hmac.compare_digest(given, known.encode()):
                found = name
        return found

    def is_admin(self, token: str | None) -> bool:
        return self.admin_token is None or hmac.compare_digest((token or "").strip().encode(),
                                                               self.admin_token.encode())


def _check_token(token: str, where: str) -> str:
    if len(token) < TOKEN_MIN or any(c.isspace() for c in token) or not token.isprintable():
        raise InvalidInput(f"{where}: a token must be at least {TOKEN_MIN} printable characters without spaces.")
    return token


def parse_tokens(text: str, where: str = "annotator tokens") -> dict[str, str]:
    """token -> cleaned name from the lines described in the module docstring (';' also ends a line)."""
    tokens: dict[str, str] = {}
    for n, line in enumerate(text.replace(";", "\n").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        token, _, name = line.partition(" ")
        here = f"{where}, line {n}"
        _check_token(token, here)
        if not name.strip():
            raise InvalidInput(f"{here}: give the annotator's name after the token.")
        if token in tokens:
            raise InvalidInput(f"{here}: this token is listed twice.")
        try:
            tokens[token] = clean_name(name)
        except InvalidInput as e:
            raise InvalidInput(f"{here}: {e}") from None
    if not tokens:
        raise InvalidInput(f"{where}: no tokens in it.")
    return tokens


def load_annotators(tokens: str | None = None, admin_token_file: str | None = None,
                    env: dict | None = None) -> Annotators:
    """From --annotators FILE (else $DIFFCHAT_ANNOTATORS: a file path or the lines themselves) and
    --admin-token-file FILE (else $DIFFCHAT_ADMIN_TOKEN). Tokens without an admin token are refused:
    nobody could see the results."""
    env = os.environ if env is None else env
    source = tokens or env.get("DIFFCHAT_ANNOTATORS") or None
    parsed: dict[str, str] = {}
    if source:
        path = Path(source)
        if tokens or path.is_file():
            if not path.is_file():
                raise InvalidInput(f"Annotator token file not found: {path}")
            parsed = parse_tokens(path.read_text(encoding="utf-8"), path.name)
        else:
            parsed = parse_tokens(source, "$DIFFCHAT_ANNOTATORS")
    admin = None
    if admin_token_file:
        if not Path(admin_token_file).is_file():
            raise InvalidInput(f"Admin token file not found: {admin_token_file}")
        admin = Path(admin_token_file).read_text(encoding="utf-8").strip()
    elif env.get("DIFFCHAT_ADMIN_TOKEN"):
        admin = env["DIFFCHAT_ADMIN_TOKEN"].strip()
    if admin is not None:
        _check_token(admin, "admin token")
    if parsed and admin is None:
        raise InvalidInput("Annotator tokens need an admin token too, for the Results tab and exports: "
                           "set DIFFCHAT_ADMIN_TOKEN or pass --admin-token-file FILE.")
    if admin is not None and admin in parsed:
        raise InvalidInput("The admin token must differ from every annotator token.")
    return Annotators(parsed, admin)
