"""Name-based classification suggestions for common identifiers.

Off by default (``HEADWATER_CLASSIFICATION_SUGGESTIONS=true``) and suggestions only: shown on
``Field.suggestedClassifications`` for a steward to accept with ``classifyField``, never applied
silently: a name is a hint, not proof of what a column holds.
"""

from __future__ import annotations

import re

from headwater.catalog.rules import covers

# (classification, pattern over the field's name split into lower-case words)
RULES: list[tuple[str, re.Pattern[str]]] = [
    ("pii.email", re.compile(r"(^|_)(e_?mail|email_address|mail_address)($|_)")),
    ("pii.phone", re.compile(r"(^|_)(phone|phone_number|mobile|cell|msisdn|tel|telephone|fax)($|_)")),
    ("pii.ip_address", re.compile(r"(^|_)(ip|ip_address|ip_addr|ipv4|ipv6|client_ip|remote_addr)($|_)")),
    ("pii.national_id", re.compile(
        r"(^|_)(ssn|social_security(_number)?|national_id|nino|passport(_number)?|tax_id|tin|"
        r"nif|bsn|personnummer|aadhaar|sin)($|_)")),
]
# Names about an identifier rather than holding one: email_sent_at, has_phone, ip_count.
_ABOUT = re.compile(r"(^(is|has|num|n)_)|(_(at|on|date|time|ts|count|flag|sent|verified|"
                    r"opt_?in|enabled|type|status|valid|domain)$)")
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def words(name: str) -> str:
    """``customerEmailAddress`` / ``Customer-Email`` → ``customer_email_address``."""
    return "_".join(w.lower() for w in _WORDS.findall(name))


def suggest(field_name: str, known: list[str]) -> list[str]:
    """Classifications the name suggests that the field does not carry yet."""
    normalised = words(field_name)
    if _ABOUT.search(normalised):
        return []
    return [c for c, pattern in RULES
            if pattern.search(normalised) and not any(covers(k, c) for k in known)]
