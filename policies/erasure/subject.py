"""Subject identifiers at rest: a keyed hash to match and audit, the clear value sealed; and
the other keys derived from the server's secret (masking, the audit chain), one HMAC label each.

The clear value is needed only to find the subject's rows, so it is kept encrypted (Fernet:
AES-128-CBC + HMAC) until the request completes, then dropped; the keyed hash (HMAC-SHA256)
stays, so the audit can show which subject was erased without saying who it was.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

import orjson
from cryptography.fernet import Fernet, InvalidToken


def load_secret(configured: str | None, data_dir: Path) -> bytes:
    """``HEADWATER_SECRET_KEY``, else a key generated once into the data directory (mode 0600).
    Several servers sharing one Neo4j must share the key: set it."""
    if configured:
        return configured.encode()
    path = data_dir / "secret.key"
    if not path.exists():
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


class SubjectVault:
    def __init__(self, secret: bytes) -> None:
        derive = lambda label: hmac.new(secret, label, hashlib.sha256).digest()  # noqa: E731
        self._match_key = derive(b"headwater/subject-fingerprint")
        self.masking_key = derive(b"headwater/masking")
        self.audit_key = derive(b"headwater/audit-chain")
        # Names the audit key in request documents without saying anything about it, so a
        # chain checked under another secret says so rather than "altered".
        self.audit_key_id = hmac.new(self.audit_key, b"headwater/audit-key-id",
                                     hashlib.sha256).hexdigest()[:12]
        self._fernet = Fernet(base64.urlsafe_b64encode(derive(b"headwater/subject-seal")))

    def fingerprint(self, kind: str, value: str) -> str:
        mac = hmac.new(self._match_key, f"{kind}\0{value}".encode(), hashlib.sha256)
        return "hmac-sha256:" + mac.hexdigest()

    def seal(self, identifiers: dict[str, list[str]]) -> str:
        return self._fernet.encrypt(orjson.dumps(identifiers)).decode()

    def open(self, sealed: str) -> dict[str, list[str]]:
        try:
            opened: dict[str, list[str]] = orjson.loads(self._fernet.decrypt(sealed.encode()))
        except InvalidToken as exc:
            raise ValueError("the subject's identifiers cannot be decrypted: the secret key "
                             "changed since the request was filed (HEADWATER_SECRET_KEY)") from exc
        return opened
