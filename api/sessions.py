"""Browser sessions for the web UI: the signed-in token sealed in an HttpOnly, SameSite=Strict
cookie, and the CSRF token that every state-changing request from a page must carry.

The cookie is opaque (Fernet: AES and an HMAC under a key derived from the server's secret), so
the token cannot be read from it, and stateless, so any server sharing the secret honours it.
Each request still identifies the token afresh, so a revoked token stops working at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import orjson
from cryptography.fernet import Fernet, InvalidToken
from fastapi import Request, Response

COOKIE = "headwater_session"
CSRF_HEADER = "x-csrf-token"
LIFETIME_SECONDS = 12 * 3600


@dataclass(frozen=True)
class Session:
    token: str
    csrf: str


class Sessions:
    def __init__(self, secret: bytes, secure: bool = False) -> None:
        key = hmac.new(secret, b"headwater/ui-session", hashlib.sha256).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))
        self.secure = secure  # Secure cookies once the server is reached over HTTPS

    def start(self, response: Response, token: str) -> Session:
        session = Session(token, secrets.token_urlsafe(24))
        sealed = self._fernet.encrypt(orjson.dumps({"t": token, "c": session.csrf})).decode()
        response.set_cookie(COOKIE, sealed, max_age=LIFETIME_SECONDS, httponly=True,
                            samesite="strict", secure=self.secure, path="/")
        return session

    @staticmethod
    def end(response: Response) -> None:
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")

    def of(self, request: Request) -> Session | None:
        """The request's session, or None (no cookie, tampered with, or expired)."""
        sealed = request.cookies.get(COOKIE)
        if not sealed:
            return None
        try:
            data = orjson.loads(self._fernet.decrypt(sealed.encode(), ttl=LIFETIME_SECONDS))
            return Session(str(data["t"]), str(data["c"]))
        except (InvalidToken, orjson.JSONDecodeError, KeyError, TypeError):
            return None


def csrf_matches(session: Session, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(session.csrf.encode(), (sent or "").encode())
