"""A local HTTP server speaking the parts of Stripe's API LiftOS uses, in Stripe's wire shapes,
for tests: the real stripe-python SDK is pointed at it with ``LIFTOS_STRIPE_API_BASE``.

It implements customers, Checkout Sessions, billing-portal sessions, subscriptions (read and
update) and Billing Meter events, with Stripe's form-encoded parameters (``a[b][0][c]=v``) and
idempotency keys (the same key answers the same response, as Stripe does for 24 h). Test
helpers play Stripe's side: completing a checkout creates the subscription, a status can be
changed, and :meth:`StripeServer.event` builds a webhook payload signed exactly as Stripe signs
it (``Stripe-Signature: t=<unix time>,v1=<HMAC-SHA256 of "t.payload">``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cluster.local import free_port


def _nested(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding back into objects and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node: Any = root
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            following = parts[index + 1] if not last else None
            container: Any = [] if following is not None and following.isdigit() else {}
            if isinstance(node, list):
                position = int(part)
                while len(node) <= position:
                    node.append({} if not last else None)
                if last:
                    node[position] = value
                else:
                    if not isinstance(node[position], dict | list) or not node[position]:
                        node[position] = node[position] or container
                    node = node[position]
            elif last:
                node[part] = value
            else:
                node = node.setdefault(part, container)
    return root


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


@dataclass
class StripeServer:
    webhook_secret: str = "whsec_test_secret_for_liftos_0123456789"
    port: int = 0
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    meter_events: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    idempotency_keys: list[str] = field(default_factory=list)
    fail_next: int = 0  # answer the next N calls with a 500 (Stripe down)
    _responses: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- server ------------------------------------------------------------------------------
    def start(self) -> StripeServer:
        self.port = self.port or free_port()
        app = Starlette(
            routes=[
                Route("/v1/customers", self._customers, methods=["POST"]),
                Route("/v1/checkout/sessions", self._checkout, methods=["POST"]),
                Route("/v1/billing_portal/sessions", self._portal, methods=["POST"]),
                Route("/v1/subscriptions/{sub_id}", self._subscription, methods=["GET", "POST"]),
                Route("/v1/billing/meter_events", self._meter_event, methods=["POST"]),
            ]
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    async def _begin(self, request: Request, name: str) -> tuple[dict[str, Any], str | None]:
        body = _nested(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        key = request.headers.get("idempotency-key")
        with self._lock:
            self.calls[name] += 1
            if key:
                self.idempotency_keys.append(key)
        return body, key

    def _answer(self, key: str | None, build: Any) -> Response:
        with self._lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                return JSONResponse(
                    {"error": {"type": "api_error", "message": "scripted outage"}}, status_code=500
                )
            if key and key in self._responses:
                status, cached = self._responses[key]
                return JSONResponse(cached, status_code=status)
            status, obj = build()
            if key:
                self._responses[key] = (status, obj)
        return JSONResponse(obj, status_code=status)

    async def _customers(self, request: Request) -> Response:
        body, key = await self._begin(request, "customers.create")

        def build() -> tuple[int, dict[str, Any]]:
            customer = {
                "id": _id("cus"),
                "object": "customer",
                "name": body.get("name"),
                "email": body.get("email"),
                "metadata": body.get("metadata", {}),
                "created": int(time.time()),
            }
            self.customers[customer["id"]] = customer
            return 200, customer

        return self._answer(key, build)

    async def _checkout(self, request: Request) -> Response:
        body, key = await self._begin(request, "checkout.sessions.create")

        def build() -> tuple[int, dict[str, Any]]:
            if body.get("customer") not in self.customers:
                return 400, {
                    "error": {
                        "type": "invalid_request_error",
                        "message": f"No such customer: '{body.get('customer')}'",
                        "param": "customer",
                    }
                }
            session_id = _id("cs_test")
            session = {
                "id": session_id,
                "object": "checkout.session",
                "mode": body.get("mode"),
                "customer": body["customer"],
                "client_reference_id": body.get("client_reference_id"),
                "metadata": body.get("metadata", {}),
                "subscription": None,
                "status": "open",
                "url": f"{self.base_url}/pay/{session_id}",
                "line_items_requested": body.get("line_items", []),
                "subscription_data": body.get("subscription_data", {}),
            }
            self.sessions[session_id] = session
            return 200, session

        return self._answer(key, build)

    async def _portal(self, request: Request) -> Response:
        body, key = await self._begin(request, "billing_portal.sessions.create")

        def build() -> tuple[int, dict[str, Any]]:
            portal_id = _id("bps")
            return 200, {
                "id": portal_id,
                "object": "billing_portal.session",
                "customer": body.get("customer"),
                "return_url": body.get("return_url"),
                "url": f"{self.base_url}/portal/{portal_id}",
            }

        return self._answer(key, build)

    async def _subscription(self, request: Request) -> Response:
        sub_id = request.path_params["sub_id"]
        name = "subscriptions.retrieve" if request.method == "GET" else "subscriptions.update"
        body, key = await self._begin(request, name)

        def build() -> tuple[int, dict[str, Any]]:
            sub = self.subscriptions.get(sub_id)
            if sub is None:
                return 404, {
                    "error": {
                        "type": "invalid_request_error",
                        "message": f"No such subscription: '{sub_id}'",
                    }
                }
            if request.method == "POST":
                items = body.get("items") or []
                if items and items[0].get("price"):
                    sub["items"]["data"][0]["price"] = {"id": items[0]["price"], "object": "price"}
                if "cancel_at_period_end" in body:
                    sub["cancel_at_period_end"] = body["cancel_at_period_end"] == "true"
                if body.get("metadata"):
                    sub["metadata"].update(body["metadata"])
                sub["proration_behavior_seen"] = body.get("proration_behavior")
            return 200, json.loads(json.dumps(sub))

        return self._answer(key, build)

    async def _meter_event(self, request: Request) -> Response:
        body, key = await self._begin(request, "billing.meter_events.create")

        def build() -> tuple[int, dict[str, Any]]:
            identifier = body.get("identifier") or _id("mev")
            event = self.meter_events.setdefault(
                identifier,
                {
                    "object": "billing.meter_event",
                    "event_name": body.get("event_name"),
                    "identifier": identifier,
                    "payload": body.get("payload", {}),
                    "created": int(time.time()),
                },
            )
            return 200, event

        return self._answer(key, build)

    # -- Stripe's side -----------------------------------------------------------------------
    def complete_checkout(self, session_id: str, *, status: str = "active") -> dict[str, Any]:
        """The customer paid: the session completes and its subscription exists."""
        with self._lock:
            session = self.sessions[session_id]
            price = session["line_items_requested"][0]["price"]
            sub_id = _id("sub")
            now = int(time.time())
            self.subscriptions[sub_id] = {
                "id": sub_id,
                "object": "subscription",
                "customer": session["customer"],
                "status": status,
                "cancel_at_period_end": False,
                "created": now,
                "metadata": dict(session["subscription_data"].get("metadata", {})),
                "items": {
                    "object": "list",
                    "data": [
                        {
                            "id": _id("si"),
                            "object": "subscription_item",
                            "price": {"id": price, "object": "price"},
                            "current_period_end": now + 30 * 86_400,
                        }
                    ],
                },
            }
            session["subscription"] = sub_id
            session["status"] = "complete"
            return dict(session)

    def set_status(self, sub_id: str, status: str) -> dict[str, Any]:
        with self._lock:
            self.subscriptions[sub_id]["status"] = status
            return json.loads(json.dumps(self.subscriptions[sub_id]))

    def event(
        self,
        event_type: str,
        obj: dict[str, Any],
        *,
        event_id: str | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """A webhook delivery: the JSON body and the headers Stripe sends with it."""
        payload = json.dumps(
            {
                "id": event_id or _id("evt"),
                "object": "event",
                "api_version": "2025-01-27.acacia",
                "created": int(time.time()),
                "type": event_type,
                "livemode": False,
                "pending_webhooks": 1,
                "data": {"object": obj},
            }
        ).encode()
        moment = int(time.time()) if timestamp is None else timestamp
        signed = f"{moment}.".encode() + payload
        digest = hmac.new(
            (secret or self.webhook_secret).encode(), signed, hashlib.sha256
        ).hexdigest()
        return payload, {
            "Stripe-Signature": f"t={moment},v1={digest}",
            "Content-Type": "application/json",
        }
