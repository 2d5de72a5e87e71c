"""OpenID Connect sign-in: the authorisation-code flow with PKCE (S256).

Authlib makes the PKCE verifier and challenge, the state, the nonce and the
authorisation URL; the code is exchanged over the portal's HTTP client and the
ID token is checked (signature by the issuer's JWKS, issuer, audience, expiry,
nonce). The person's organisation and role come from the configured claims;
the portal then signs the same vndx token the APIs verify.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from authlib.common.security import generate_token  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri  # type: ignore[import-untyped]
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]
from fastapi import Request, Response
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from services.common.auth import ROLES, TokenIssuer
from services.portal.backends import BackendError
from services.portal.web import Portal, portal_of, redirect, session_of

DISCOVERY_TTL_S = 3600.0
FLOW_KEY = "oidc_flow"


class SignInFailed(BackendError):
    """The identity provider's answer could not be accepted."""

    def __init__(self, message: str) -> None:
        super().__init__(403, "sign_in_failed", message)


async def discovery(portal: Portal) -> dict[str, Any]:
    cached = portal.cache.get("oidc")
    if cached and time.monotonic() - cached[0] < DISCOVERY_TTL_S:
        value: dict[str, Any] = cached[1]
        return value
    issuer = (portal.settings.oidc_issuer or "").rstrip("/")
    try:
        response = await portal.backends.client.get(f"{issuer}/.well-known/openid-configuration")
        response.raise_for_status()
        document: dict[str, Any] = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise BackendError(
            503, "unavailable", f"the identity provider is unreachable: {exc}"
        ) from exc
    portal.cache["oidc"] = (time.monotonic(), document)
    return document


def redirect_uri(portal: Portal) -> str:
    return portal.settings.public_base_url.rstrip("/") + "/auth/callback"


def authorisation_request(portal: Portal, endpoint: str) -> tuple[str, dict[str, str]]:
    """The URL to send the browser to and what to remember until it comes back."""
    flow = {
        "state": generate_token(32),
        "nonce": generate_token(32),
        "verifier": generate_token(64),
    }
    url = prepare_grant_uri(
        endpoint,
        client_id=portal.settings.oidc_client_id or "",
        response_type="code",
        redirect_uri=redirect_uri(portal),
        scope="openid profile email",
        state=flow["state"],
        nonce=flow["nonce"],
        code_challenge=create_s256_code_challenge(flow["verifier"]),
        code_challenge_method="S256",
    )
    return url, flow


async def start(request: Request, next_path: str | None) -> Response:
    portal = portal_of(request)
    document = await discovery(portal)
    url, flow = authorisation_request(portal, document["authorization_endpoint"])
    session_of(request).set(FLOW_KEY, {**flow, "next": next_path or ""})
    return redirect(url)


async def _claims(
    portal: Portal, document: dict[str, Any], id_token: str, nonce: str
) -> dict[str, Any]:
    jwks = (await portal.backends.client.get(document["jwks_uri"])).json()
    try:
        token = jwt.decode(id_token, KeySet.import_key_set(jwks))
        claims = jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": document["issuer"]},
            aud={"essential": True, "value": portal.settings.oidc_client_id or ""},
            exp={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        claims.validate(token.claims)
    except (JoseError, ValueError) as exc:
        raise SignInFailed(f"the ID token was refused: {exc}") from exc
    found: dict[str, Any] = dict(token.claims)
    return found


async def finish(request: Request) -> str | None:
    """Check the callback, exchange the code, sign the person in; the page to go to."""
    portal = portal_of(request)
    session = session_of(request)
    flow = session.pop(FLOW_KEY)
    params = request.query_params
    if not isinstance(flow, dict) or params.get("state") != flow.get("state"):
        raise SignInFailed("the sign-in state does not match; start again")
    if "error" in params or not params.get("code"):
        raise SignInFailed(f"the identity provider refused: {params.get('error', 'no code')}")
    document = await discovery(portal)
    secret = portal.settings.oidc_client_secret
    response = await portal.backends.client.post(
        document["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": redirect_uri(portal),
            "code_verifier": flow["verifier"],
            "client_id": portal.settings.oidc_client_id or "",
        },
        auth=(portal.settings.oidc_client_id or "", secret.get_secret_value() if secret else ""),
    )
    if response.status_code != 200:
        raise SignInFailed(f"the code exchange failed ({response.status_code})")
    claims = await _claims(portal, document, response.json()["id_token"], flow["nonce"])
    org = claims.get(portal.settings.oidc_org_claim)
    role = claims.get(portal.settings.oidc_role_claim)
    if not isinstance(org, str) or not org or role not in ROLES:
        raise SignInFailed("the identity provider did not say which organisation and role")
    settings = portal.settings
    issuer = TokenIssuer(
        settings.private_key_path.read_bytes(),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    token = issuer.issue(org, role, subject=str(claims.get("sub")), ttl_s=settings.token_ttl_s)
    session.sign_in(token, org, role, name=str(claims.get("name") or claims.get("email") or org))
    next_path = flow.get("next")
    return next_path if isinstance(next_path, str) and next_path else None
