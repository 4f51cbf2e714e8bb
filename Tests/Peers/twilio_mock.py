#!/usr/bin/env python3
"""A local stand-in for Twilio's Messages API, for the SMS plugin's tests.

Twilio runs no server that can be installed locally, but it publishes an OpenAPI description of
its 2010-04-01 REST API (specs/twilio_api_v2010.json, MIT, see specs/LICENSE.twilio-oai). This
peer serves that description with connexion 3 in mock mode, so every request is validated against
Twilio's own schema (path parameters, form fields, their types and patterns), and wraps it with
what a test needs:

  * HTTP basic auth: user = the account SID, password = the token in --auth-token-file. A wrong or
    missing pair answers 401 with Twilio's documented body
    {"code": 20003, "message": "Authenticate", "more_info": ".../errors/20003", "status": 401}.
  * A recorder: every request, whatever its fate, is appended to DIR/received.jsonl as one JSON
    line {"method", "path", "headers" (lower-case names), "form" (decoded fields; a field sent
    more than once becomes a list), "auth_user"}, flushed at once.
  * Fault injection: DIR/faults.json, read on every request if present, is a list of rules
        {"to_contains": "...", "status": 429, "headers": {"Retry-After": "2"},
         "body": {...}, "times": N, "delay_ms": M}
    The first rule whose to_contains occurs in the request's To field (a missing or empty
    to_contains matches every request) answers instead of the mock, after the recorder and the
    auth check. "times" makes a rule apply N times (counted in memory, per rule text); "delay_ms"
    waits before answering; a rule without "body" gets a Twilio-shaped body for its status; a rule
    without "status" only delays, and the request then goes on as usual.
  * POST .../Messages.json answers 201 with a Message resource built from Twilio's own example
    in the description, filled in from the request: a unique sid ("SM" + 32 hex), to, from, body,
    messaging_service_sid, status "queued", dates of now, segment and media counts.
    Two checks Twilio makes that the schema cannot express answer with Twilio's documented
    errors: neither From nor MessagingServiceSid (21603), and none of Body, MediaUrl, ContentSid
    (21602).
  * Requests that fail schema validation answer 400 (415 for a wrong Content-Type) in connexion's
    generic problem shape {"type", "title", "detail", "status"}, not Twilio's: error-body parsing
    must be tested with the fixtures in error_fixtures.md or with injected faults.
  * DIR/ready is written once the server listens: {"port", "pid", "url"}.

The description is read from --spec, else $LEADD_PROVIDER_SPECS/twilio_api_v2010.json, else the
copy in specs/ next to this file, else <repo>/../shared/provider-specs/. The whole description is
loaded (about a second); every other operation in it is served by connexion's plain mock.

Usage: python3 twilio_mock.py --dir DIR --port P --account-sid ACxxx --auth-token-file F
       [--host 127.0.0.1] [--spec FILE] [--verbose]
Needs connexion[flask,uvicorn] 3.x (PyPI). Stops cleanly on SIGTERM or SIGINT.
"""

import argparse
import asyncio
import base64
import copy
import email.utils
import json
import logging
import math
import os
import secrets
import socket
import sys
import urllib.parse
import warnings
from datetime import datetime, timezone

from peerkit import Faults, Recorder, write_ready

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC_NAME = "twilio_api_v2010.json"
CREATE_MESSAGE = "CreateMessage"

# GSM 03.38 basic character set and the characters that need an escape (count twice).
GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = set("^{}\\[~]|€\f")


def find_spec(explicit):
    candidates = []
    if explicit:
        candidates.append(explicit)
    env = os.environ.get("LEADD_PROVIDER_SPECS")
    if env:
        candidates.append(os.path.join(env, SPEC_NAME))
    candidates.append(os.path.join(HERE, "specs", SPEC_NAME))
    repo = os.path.dirname(os.path.dirname(HERE))
    candidates.append(os.path.join(os.path.dirname(repo), "shared", "provider-specs", SPEC_NAME))
    for path in candidates:
        if os.path.isfile(path):
            return path
    sys.exit("twilio_mock: Twilio's description not found; tried:\n  " + "\n  ".join(candidates))


def load_spec(path):
    """The description with its security requirements removed: auth is checked here, so that a
    refusal carries Twilio's body rather than connexion's."""
    with open(path, encoding="utf-8") as f:
        spec = json.load(f)
    spec.pop("security", None)
    for item in spec.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict):
                operation.pop("security", None)
    return spec


def twilio_error(code, message, status):
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


DEFAULT_FAULT_BODIES = {
    400: (400, "Bad Request"),
    401: (20003, "Authenticate"),
    404: (20404, "The requested resource was not found"),
    429: (20429, "Too Many Requests"),
    500: (20500, "Internal Server Error"),
    503: (20503, "Service unavailable"),
}


def segments(body):
    if not body:
        return 0
    if all(c in GSM_BASIC or c in GSM_EXTENDED for c in body):
        units = sum(2 if c in GSM_EXTENDED else 1 for c in body)
        return 1 if units <= 160 else math.ceil(units / 153)
    units = len(body.encode("utf-16-le")) // 2
    return 1 if units <= 70 else math.ceil(units / 67)


def rfc2822_now():
    return email.utils.format_datetime(datetime.now(timezone.utc).replace(microsecond=0))


def decode_form(raw):
    fields = urllib.parse.parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] if len(v) == 1 else v for k, v in fields.items()}


def basic_user_password(header):
    if not header or not header.lower().startswith("basic "):
        return None, None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None, None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else (user, None)


class MessagesMock:
    """connexion's MockResolver, with CreateMessage answered from the request."""

    def __init__(self, mock_resolver_class):
        outer = self

        class Resolver(mock_resolver_class):
            def mock_operation(self, operation, *args, **kwargs):
                if operation.operation_id == CREATE_MESSAGE:
                    return outer.create_message(operation, **kwargs)
                return super().mock_operation(operation, *args, **kwargs)

        self.resolver = Resolver(mock_all=True)
        self.example = None

    def create_message(self, operation, AccountSid=None, body=None, **_):
        form = body or {}
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return twilio_error(21603, "A 'From' phone number is required.", 400), 400
        if not (form.get("Body") or form.get("MediaUrl") or form.get("ContentSid")):
            return twilio_error(21602, "Message body is required.", 400), 400
        if self.example is None:
            example, _ = operation.example_response()
            self.example = example if isinstance(example, dict) else {}
        message = copy.deepcopy(self.example)
        media = form.get("MediaUrl") or []
        if isinstance(media, str):
            media = [media]
        sid = ("MM" if media else "SM") + secrets.token_hex(16)
        now = rfc2822_now()
        text = form.get("Body") or ""
        base = f"/2010-04-01/Accounts/{AccountSid}/Messages/{sid}"
        message.update(
            {
                "account_sid": AccountSid,
                "api_version": "2010-04-01",
                "body": text,
                "date_created": now,
                "date_updated": now,
                "date_sent": None,
                "direction": "outbound-api",
                "error_code": None,
                "error_message": None,
                "from": form.get("From"),
                "messaging_service_sid": form.get("MessagingServiceSid"),
                "num_media": str(len(media)),
                "num_segments": str(segments(text)),
                "price": None,
                "price_unit": "USD",
                "sid": sid,
                "status": "queued",
                "subresource_uris": {"media": base + "/Media.json"},
                "to": form.get("To"),
                "uri": base + ".json",
            }
        )
        return message, 201


class Peer:
    """The ASGI app: recorder, auth and faults around connexion's app."""

    def __init__(self, inner, directory, account_sid, token):
        self.inner = inner
        self.account_sid = account_sid
        self.token = token
        self.recorder = Recorder(directory)
        self.faults = Faults(directory)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.inner(scope, receive, send)
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        raw = b"".join(chunks)
        headers = {}
        for name, value in scope["headers"]:
            key = name.decode("latin-1").lower()
            text = value.decode("latin-1")
            headers[key] = headers[key] + ", " + text if key in headers else text
        content_type = headers.get("content-type", "")
        form = decode_form(raw) if "application/x-www-form-urlencoded" in content_type else {}
        user, password = basic_user_password(headers.get("authorization"))
        path = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
        if scope.get("query_string"):
            path += "?" + scope["query_string"].decode("latin-1")
        self.recorder.record(
            {"method": scope["method"], "path": path, "headers": headers, "form": form, "auth_user": user}
        )

        if user != self.account_sid or password != self.token:
            body = twilio_error(20003, "Authenticate", 401)
            return await respond(send, 401, body, {"WWW-Authenticate": 'Basic realm="Twilio API"'})
        path_account = scope["path"].split("/")[3] if scope["path"].startswith("/2010-04-01/Accounts/") else None
        if path_account and path_account != self.account_sid:
            return await respond(send, 401, twilio_error(20003, "Authenticate", 401), {})

        to = form.get("To")
        rule = self.faults.match(to if isinstance(to, str) else None)
        if rule is not None:
            delay = rule.get("delay_ms")
            if delay:
                await asyncio.sleep(float(delay) / 1000)
            if rule.get("status") is not None:
                status = int(rule["status"])
                body = rule.get("body")
                if body is None:
                    code, text = DEFAULT_FAULT_BODIES.get(status, (status, "Injected fault"))
                    body = twilio_error(code, text, status)
                return await respond(send, status, body, rule.get("headers") or {})

        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": raw, "more_body": False}

        async def send_with_request_id(message):
            if message["type"] == "http.response.start":
                extra = [(b"twilio-request-id", ("RQ" + secrets.token_hex(16)).encode())]
                message = dict(message, headers=list(message.get("headers", [])) + extra)
            await send(message)

        await self.inner(scope, replay, send_with_request_id)


async def respond(send, status, body, headers):
    payload = body if isinstance(body, (bytes, str)) else json.dumps(body)
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    names = {k.lower() for k in headers}
    out = [(b"content-length", str(len(payload)).encode())]
    if "content-type" not in names:
        out.append((b"content-type", b"application/json"))
    out += [(str(k).encode("latin-1"), str(v).encode("latin-1")) for k, v in headers.items()]
    out.append((b"twilio-request-id", ("RQ" + secrets.token_hex(16)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": payload})


def main():
    parser = argparse.ArgumentParser(description="Twilio Messages API mock for tests")
    parser.add_argument("--dir", required=True)
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port (see DIR/ready)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--account-sid", required=True)
    parser.add_argument("--auth-token-file", required=True)
    parser.add_argument("--spec")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()

    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    if not args.verbose:
        logging.getLogger("connexion").setLevel(logging.CRITICAL)

    # connexion imports starlette's test client, which warns about httpx; not ours to fix.
    warnings.filterwarnings("ignore", message=".*httpx.*")
    import connexion
    import uvicorn
    from connexion.mock import MockResolver

    os.makedirs(args.dir, exist_ok=True)
    ready = os.path.join(args.dir, "ready")
    if os.path.exists(ready):
        os.remove(ready)
    with open(args.auth_token_file, encoding="utf-8") as f:
        token = f.read().strip()

    spec_path = find_spec(args.spec)
    mock = MessagesMock(MockResolver)
    app = connexion.AsyncApp(__name__, specification_dir=os.path.dirname(spec_path))
    app.add_api(load_spec(spec_path), resolver=mock.resolver, validate_responses=False, swagger_ui_options=None)
    peer = Peer(app, args.dir, args.account_sid, token)

    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(1024)
    port = sock.getsockname()[1]

    class Server(uvicorn.Server):
        async def startup(self, sockets=None):
            await super().startup(sockets=sockets)
            if self.should_exit:
                return
            write_ready(args.dir, port)
            print(f"twilio_mock: listening on {args.host}:{port}, description {spec_path}", flush=True)

    config = uvicorn.Config(
        peer,
        log_level="info" if args.verbose else "warning",
        access_log=args.verbose,
        timeout_keep_alive=75,
        lifespan="on",
    )
    Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
