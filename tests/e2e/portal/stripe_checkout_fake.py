"""Stripe Checkout in front of the orders tests' Stripe fake (localstripe has no Checkout).

``/v1/checkout/sessions`` (create, retrieve, expire) is answered here, as Stripe's API
does, with ``Idempotency-Key`` honoured; ``/pay/{id}`` is the hosted payment page: its
button opens and confirms the PaymentIntent at localstripe, marks the session paid,
delivers ``checkout.session.completed`` to the webhook endpoint signed the way Stripe
signs (``t=…,v1=HMAC-SHA256``), and sends the browser to the session's success URL.
Every other call goes on to the Stripe fake unchanged.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx

from tests.integration.orders.stripe_fake import IdempotentStripe

SESSION_PATH = re.compile(r"^/v1/checkout/sessions(?:/(cs_test_\w+))?(/expire)?$")
PAY_PATH = re.compile(r"^/pay/(cs_test_\w+)$")
KEY_PART = re.compile(r"\[([^\]]*)\]")
_HOP = {"host", "content-length", "connection", "accept-encoding", "transfer-encoding"}


def nested(form: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (``a[b][0][c]=v``) as nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in form:
        head = key.split("[", 1)[0]
        parts = [head, *KEY_PART.findall(key)]
        node: Any = root
        for part, following in zip(parts, [*parts[1:], None], strict=True):
            slot: Any = int(part) if part.isdigit() else part
            if following is None:
                node[slot] = value
                break
            if isinstance(node, dict) and slot not in node:
                node[slot] = {}
            node = node[slot]
    result: dict[str, Any] = _listify(root)
    return result


def _listify(node: Any) -> Any:
    if isinstance(node, dict):
        if node and all(isinstance(k, int) for k in node):
            return [_listify(node[k]) for k in sorted(node)]
        return {k: _listify(v) for k, v in node.items()}
    return node


class CheckoutStripe:
    """The Stripe fake plus Checkout Sessions and their hosted payment page."""

    def __init__(self, log_file: Path, secret_key: str, webhook_secret: str) -> None:
        self.stripe = IdempotentStripe(log_file)
        self.secret_key = secret_key
        self.webhook_secret = webhook_secret
        self.webhook_url: str | None = None
        self.sessions: dict[str, dict[str, Any]] = {}
        self.by_key: dict[str, str] = {}
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def api_base(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        self.stripe.start()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        self.stripe.stop()

    def create(self, params: dict[str, Any], key: str | None) -> dict[str, Any]:
        with self.lock:
            if key and key in self.by_key:
                return self.sessions[self.by_key[key]]
            session_id = f"cs_test_{secrets.token_hex(12)}"
            item = params["line_items"][0]
            session: dict[str, Any] = {
                "id": session_id,
                "object": "checkout.session",
                "mode": params.get("mode", "payment"),
                "url": f"{self.api_base}/pay/{session_id}",
                "status": "open",
                "payment_status": "unpaid",
                "amount_total": int(item["price_data"]["unit_amount"]) * int(item["quantity"]),
                "currency": item["price_data"]["currency"],
                "client_reference_id": params.get("client_reference_id"),
                "metadata": params.get("metadata", {}),
                "payment_intent_data": params.get("payment_intent_data", {}),
                "success_url": params["success_url"],
                "cancel_url": params["cancel_url"],
                "payment_intent": None,
                "livemode": False,
            }
            self.sessions[session_id] = session
            if key:
                self.by_key[key] = session_id
            return session

    def pay(self, session_id: str, authorization: str) -> dict[str, Any]:
        """What Stripe does when the buyer pays on the hosted page."""
        session = self.sessions[session_id]
        metadata = session["payment_intent_data"].get("metadata", {})
        form = {
            "amount": str(session["amount_total"]),
            "currency": session["currency"],
            "payment_method_types[]": "card",
            **{f"metadata[{k}]": v for k, v in metadata.items()},
        }
        intent = httpx.post(
            f"{self.stripe.api_base}/v1/payment_intents",
            data=form,
            headers={"Authorization": authorization},
            timeout=30,
        ).json()
        with self.lock:
            session.update(status="complete", payment_status="paid", payment_intent=intent["id"])
        self._deliver("checkout.session.completed", session)
        return session

    def _deliver(self, event_type: str, session: dict[str, Any]) -> None:
        assert self.webhook_url is not None, "set webhook_url before anyone pays"
        event = {
            "id": f"evt_{secrets.token_hex(12)}",
            "object": "event",
            "type": event_type,
            "created": int(time.time()),
            "livemode": False,
            "data": {"object": session},
        }
        payload = json.dumps(event)
        stamp = str(int(time.time()))
        signature = hmac.new(
            self.webhook_secret.encode(), f"{stamp}.{payload}".encode(), hashlib.sha256
        ).hexdigest()
        answer = httpx.post(
            self.webhook_url,
            content=payload,
            headers={
                "Content-Type": "application/json",
                "Stripe-Signature": f"t={stamp},v1={signature}",
            },
            timeout=30,
        )
        answer.raise_for_status()


def _handler(fake: CheckoutStripe) -> type[BaseHTTPRequestHandler]:
    class Front(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: object) -> None:
            return

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _send(self, status: int, content: bytes, kind: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def _json(self, value: dict[str, Any], status: int = 200) -> None:
            self._send(status, json.dumps(value).encode())

        def _forward(self, body: bytes) -> None:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
            answer = httpx.request(
                self.command,
                fake.stripe.api_base + self.path,
                content=body,
                headers=headers,
                timeout=30,
            )
            self._send(answer.status_code, answer.content)

        def _session_call(self, match: re.Match[str], body: bytes) -> None:
            session_id, expire = match.group(1), match.group(2)
            if session_id is None and self.command == "POST":
                params = nested(parse_qsl(body.decode(), keep_blank_values=True))
                self._json(fake.create(params, self.headers.get("Idempotency-Key")))
                return
            session = fake.sessions.get(session_id or "")
            if session is None:
                self._json({"error": {"type": "invalid_request_error"}}, 404)
                return
            if expire and self.command == "POST":
                if session["status"] != "open":
                    self._json({"error": {"type": "invalid_request_error"}}, 400)
                    return
                session["status"] = "expired"
            self._json(session)

        def do_GET(self) -> None:
            body = self._body()
            if (match := SESSION_PATH.match(self.path)) is not None:
                self._session_call(match, body)
            elif (match := PAY_PATH.match(self.path)) is not None:
                session = fake.sessions[match.group(1)]
                page = (
                    "<!doctype html><html lang=en><head><title>Stripe Checkout (test)</title>"
                    "</head><body><main><h1>Pay vndx</h1>"
                    f"<p id=amount>{session['amount_total']} {html.escape(session['currency'])}</p>"
                    f"<form method=post action='/pay/{session['id']}'>"
                    "<button id=pay type=submit>Pay</button></form></main></body></html>"
                )
                self._send(200, page.encode(), "text/html; charset=utf-8")
            else:
                self._forward(body)

        def do_POST(self) -> None:
            body = self._body()
            if (match := SESSION_PATH.match(self.path)) is not None:
                self._session_call(match, body)
            elif (match := PAY_PATH.match(self.path)) is not None:
                authorization = f"Bearer {fake.secret_key}"
                session = fake.pay(match.group(1), authorization)
                self.send_response(303)
                self.send_header("Location", session["success_url"])
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                self._forward(body)

        def do_DELETE(self) -> None:
            self._forward(self._body())

    return Front
