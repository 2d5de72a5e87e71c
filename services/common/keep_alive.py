"""How long idle HTTP connections between our own processes stay open, on each side.

A client that sends on a pooled connection at the instant the server closes it
for idleness gets "server disconnected" instead of an answer. uvicorn and httpx
both default to 5 s, so a page that polls every few seconds hits that race now
and then (the portal showed "a service we depend on is unavailable" for a grant
that was there). Servers therefore keep idle connections well past the time any
of our clients keeps them: the client always gives a connection up first.
"""

from __future__ import annotations

SERVER_IDLE_S = 30
"""uvicorn's ``--timeout-keep-alive`` for every service (stack and compose)."""

CLIENT_IDLE_S = 5.0
"""httpx's ``keepalive_expiry`` for the portal's pooled client."""
