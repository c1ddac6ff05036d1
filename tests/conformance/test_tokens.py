"""Tokens in the store, on both backends: unique names, expiry, revocation, last use, listing
without secrets; and the token service that caches them for at most a second."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from headwater.catalog import Store
from headwater.catalog.errors import Conflict, NotFound
from headwater.catalog.rules import now, utc_text
from headwater.catalog.tokens import Tokens, create_token, hash_token, revoke_token, status


def later(seconds: float) -> str:
    return utc_text(datetime.now(UTC) + timedelta(seconds=seconds))


def test_names_are_unique(store: Store) -> None:
    store.add_token("h1", "ci", "producer")
    with pytest.raises(Conflict, match="'ci' exists already"):
        store.add_token("h2", "ci", "viewer")
    assert store.token_role("h2") is None and store.token_role("h1") == "producer"


def test_listing_shows_everything_but_the_secret(store: Store) -> None:
    token = create_token(store, "producer", "ci", timedelta(days=90), environment="dev")
    create_token(store, "viewer")  # a name is made up, not taken from the token
    listed = store.tokens()
    assert [t.role for t in listed] == ["producer", "viewer"]
    ci, viewer = listed
    assert (ci.name, ci.environment, ci.revoked_at, ci.last_used_at) == ("ci", "dev", None, None)
    assert ci.expires_at is not None and ci.expires_at > later(89 * 86400)
    assert viewer.name.startswith("viewer-") and viewer.name[7:] not in token
    for record in listed:
        text = repr(record)
        assert hash_token(token) not in text and token[3:13] not in text


def test_revoked_and_expired_tokens_have_no_role(store: Store) -> None:
    store.add_token("h1", "ci", "producer")
    store.add_token("h2", "old", "producer", expires_at=later(-1))
    assert store.token_role("h2") is None
    assert status(store.token("h2")) == "expired"  # type: ignore[arg-type]
    revoke_token(store, "ci")
    assert store.token_role("h1") is None
    record = store.token("h1")
    assert record is not None and record.revoked_at is not None and status(record) == "revoked"
    with pytest.raises(NotFound, match="no token is named 'nope'"):
        revoke_token(store, "nope")


def test_last_use_is_recorded(store: Store) -> None:
    store.add_token("h1", "ci", "producer")
    at = now()
    store.token_used("h1", at)
    assert store.token("h1").last_used_at == at  # type: ignore[union-attr]


def test_the_service_refuses_a_revoked_token_within_a_second(store: Store) -> None:
    token = create_token(store, "producer", "ci")
    tokens = Tokens(store)
    who = tokens.identify(token)
    assert who is not None and (who.name, who.role) == ("ci", "producer")
    revoke_token(store, "ci")  # as another server or the CLI would
    deadline = time.monotonic() + 1.0
    while tokens.identify(token) is not None:
        assert time.monotonic() < deadline, "a revoked token still works after 1 s"
        time.sleep(0.05)


def test_the_service_refuses_a_token_once_it_expires(store: Store) -> None:
    token = create_token(store, "producer", "short", timedelta(seconds=1))
    tokens = Tokens(store, ttl=60)  # even with a long cache: expiry is checked every time
    assert tokens.identify(token) is not None
    time.sleep(1.1)
    assert tokens.identify(token) is None
