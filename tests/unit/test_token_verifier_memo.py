"""The token verifier remembers accepted tokens, never past their expiry."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from services.common.auth import AuthError, TokenIssuer, TokenVerifier, ensure_keypair


@pytest.fixture
def keys(tmp_path: Path) -> tuple[bytes, bytes]:
    ensure_keypair(tmp_path / "key.pem", tmp_path / "key.pub.pem")
    return (tmp_path / "key.pem").read_bytes(), (tmp_path / "key.pub.pem").read_bytes()


def test_an_accepted_token_is_remembered_until_its_expiry_only(
    keys: tuple[bytes, bytes],
) -> None:
    private, public = keys
    now = [time.time()]
    verifier = TokenVerifier(
        public, issuer="vndx", audience="api", remember_s=3600, clock=lambda: now[0]
    )
    token = TokenIssuer(private, issuer="vndx", audience="api").issue(
        "startup-a", "buyer", ttl_s=30
    )
    first = verifier.verify(token)
    assert first.org == "startup-a" and verifier.verify(token) is first  # remembered

    now[0] += 31  # past exp: the remembered principal is not used, and the real check
    # runs again (PyJWT's own clock is real, so the token still verifies within its
    # lifetime; what matters is that the memo expired with the token)
    assert verifier.verify(token) is not first


def test_refused_tokens_are_refused_every_time(keys: tuple[bytes, bytes]) -> None:
    private, public = keys
    verifier = TokenVerifier(public, issuer="vndx", audience="api")
    other_audience = TokenIssuer(private, issuer="vndx", audience="elsewhere").issue(
        "startup-a", "buyer"
    )
    for _ in range(2):
        with pytest.raises(AuthError):
            verifier.verify(other_audience)
    good = TokenIssuer(private, issuer="vndx", audience="api").issue("startup-a", "buyer")
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    verifier.verify(good)
    with pytest.raises(AuthError):
        verifier.verify(forged)


def test_a_remembered_token_is_forgotten_after_remember_s_and_beyond_the_bound(
    keys: tuple[bytes, bytes],
) -> None:
    private, public = keys
    now = [time.time()]
    verifier = TokenVerifier(
        public, issuer="vndx", audience="api", remember=2, remember_s=10, clock=lambda: now[0]
    )
    issuer = TokenIssuer(private, issuer="vndx", audience="api")
    tokens = [issuer.issue(f"startup-{n}", "buyer") for n in range(3)]
    first = verifier.verify(tokens[0])
    assert verifier.verify(tokens[0]) is first
    now[0] += 11  # past remember_s: checked afresh
    again = verifier.verify(tokens[0])
    assert again is not first and again == first
    verifier.verify(tokens[1])
    verifier.verify(tokens[2])  # a third token pushes out the least recently used
    assert verifier.verify(tokens[0]) is not again
