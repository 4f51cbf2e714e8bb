#!/usr/bin/env python3
"""A fake of the WhatsApp Business Cloud API's send endpoint, for the WhatsApp plugin's tests.

This is a fake, written from Meta's reference, because no real Cloud API server can run locally:
the API only exists as Meta's hosted service (graph.facebook.com), and no independent emulator
installs here. It follows
  * Meta's OpenAPI description of the Business Messaging API v23.0
    (shared/provider-specs/whatsapp_business_messaging_api_v23.0.yaml, MIT): the
    `POST /{Version}/{Phone-Number-ID}/messages` operation, its `Message`, `TextMessage`,
    `TemplateMessage`, `TemplateObject`, `LanguageObject`, `TemplateComponent`, `ParameterObject`
    and `MessageResponsePayload` schemas;
  * Meta's Cloud API pages on sending messages and on error codes
    (https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes,
    formerly https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes), and
    the Graph API error-handling page
    (https://developers.facebook.com/docs/graph-api/guides/error-handling).
Where the description is stricter than the live API (it requires `recipient_type` and
`language.policy`, and its `additionalProperties: false` on TextMessage rejects every valid send)
this fake follows the live API as the reference pages describe it: both fields are optional.

Usage: python3 whatsapp_fake.py --dir DIR --port P --phone-number-id ID [--phone-number-id ID2 ...]
       --token-file F
       [--host 127.0.0.1] [--verbose]
Standard library only. Serves HTTP/1.1 with keep-alive on a thread per connection. Stops cleanly
on SIGTERM or SIGINT.

What it does, in order, for every request:
  1. Records it as one JSON line in DIR/received.jsonl, flushed at once:
     {"method", "path", "headers" (lower-case names), "json" (the parsed body or null), "raw"}.
  2. Only `/vN.N/<phone-number-id>/messages` exists (any vN.N); other paths answer Graph's
     "Unknown path components" error (code 2500). A method other than POST gets, after the token
     check, the unsupported-request error of step 4.
  3. Token: `Authorization: Bearer <token>` (or Graph's `access_token` query parameter) must equal
     the content of --token-file. Wrong: 401, code 190, "Invalid OAuth access token - Cannot
     parse access token". Missing: 401, code 104, "An access token is required to request this
     resource." (what Graph says when no token is sent). Both carry type "OAuthException" and
     Graph's WWW-Authenticate header.
  4. A phone-number-id other than those given with --phone-number-id (one business account may
     own several numbers, all reached with its one system-user token): 400, Graph's "Unsupported post request.
     Object with ID '...' does not exist, ..." (type GraphMethodException, code 100, subcode 33).
  5. Fault rules from DIR/faults.json, read on every request if present: a list of
        {"to_contains": "...", "status": 429, "headers": {"Retry-After": "3"}, "body": {...},
         "times": N, "delay_ms": M}
     The first rule whose to_contains occurs in the body's `to` (missing or empty matches every
     request) answers with its status, headers and body (a Graph error for the status when the
     rule has no body). "times" limits a rule to N uses (counted in memory, per rule text);
     "delay_ms" waits first; a rule without "status" only delays.
  6. Validates the body (see validate()); errors are Graph errors with Meta's codes: 100 for a
     missing or ill-typed parameter, 131008/131009 for template parameters, 132018 for a template
     text parameter with a new line, a tab or five spaces in a row. Enum values (type,
     recipient_type, component and parameter types) compare without case, as Graph does. The body is
     read as JSON unless the Content-Type is application/x-www-form-urlencoded, in which case it
     is read as a form, as Graph does: a JSON text posted without "Content-Type:
     application/json" (libcurl's default for a POST body is the form type) therefore fails with
     "(#100) The parameter messaging_product is required.".
  7. Answers 200 {"messaging_product": "whatsapp", "contacts": [{"input": <to>, "wa_id":
     <digits of to>}], "messages": [{"id": "wamid.<unique>"}]}; a template send's message also
     carries "message_status": "accepted" (MessageResponsePayload / MessageStatus in the
     description).
Optionally DIR/templates.json, read on every request, lists the approved templates:
     {"<name>": {"languages": ["pt_BR", ...], "body_params": 2}}
When it exists, an unknown name or language answers 132001 and a body parameter count other
than body_params answers 132000; without it every template name is taken as approved.
DIR/ready is written once the server listens: {"port", "pid", "url"}.
"""

import argparse
import base64
import json
import os
import re
import secrets
import signal
import socket
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from peerkit import Faults, Recorder, read_json, write_ready

MESSAGES_PATH = re.compile(r"^/(v\d+\.\d+)/([^/]+)/messages/?$")
VERSIONED_PATH = re.compile(r"^/(v\d+\.\d+)(/.*)?$")

# Message types the send endpoint takes (the `Message` discriminator in the description).
MESSAGE_TYPES = [
    "audio", "contacts", "document", "image", "interactive", "location",
    "reaction", "sticker", "template", "text", "video",
]
# Body parameters of a text-based template may be text, currency or date_time
# (ParameterObject: "For text-based templates, only currency, date_time, and text are supported").
BODY_PARAMETER_TYPES = ["currency", "date_time", "text"]
COMPONENT_TYPES = ["body", "button", "header"]
TEXT_BODY_LIMIT = 4096  # text.body: "Maximum 4096 characters" (Cloud API text messages reference).

# The titles live error messages carry for these codes: "(#<code>) <title>".
TITLES = {
    1: "API Unknown",
    2: "API Service",
    4: "Application request limit reached",
    100: "Invalid parameter",
    131000: "Something went wrong",
    131008: "Required parameter is missing",
    131009: "Parameter value is not valid",
    131026: "Message undeliverable",
    131047: "Re-engagement message",
    131048: "Spam rate limit hit",
    131056: "(Business Account, Consumer Account) pair rate limit hit",
    130429: "Rate limit hit",
    132000: "Number of parameters does not match the expected number of params",
    132001: "Template name does not exist in the translation",
    132018: "There's an issue with the parameters in your template",
    80007: "Rate limit issues",
}

# What a fault rule without a body answers, by HTTP status, with Meta's details texts.
DEFAULT_FAULT_CODES = {400: 100, 401: 190, 403: 10, 404: 100, 429: 130429, 500: 131000, 503: 2}
DEFAULT_DETAILS = {
    130429: "Cloud API message throughput has been reached.",
    131000: "Message failed to send due to an unknown error.",
}

FBTRACE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def fbtrace_id():
    return "A" + "".join(secrets.choice(FBTRACE_ALPHABET) for _ in range(22))


def graph_error(code, message=None, details=None, type_="OAuthException", subcode=None):
    """Graph's error body. WhatsApp's own codes (13xxxx) carry error_data.details; Graph's
    generic codes (100, 104, 190, ...) do not (see the error-handling page)."""
    error = {"message": message or f"(#{code}) {TITLES.get(code, 'Error')}", "type": type_, "code": code}
    if details is not None:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["fbtrace_id"] = fbtrace_id()
    return {"error": error}


class Invalid(Exception):
    def __init__(self, status, body):
        super().__init__(body["error"]["message"])
        self.status = status
        self.body = body


def invalid_parameter(message):
    """Graph's code 100 for a missing, misspelled or ill-typed parameter."""
    return Invalid(400, graph_error(100, f"(#100) {message}"))


def one_of(name, value, allowed):
    upper = ", ".join(a.upper() for a in allowed)
    return invalid_parameter(f"Param {name} must be one of {{{upper}}} - got {json.dumps(value)}.")


def wamid(to_digits):
    """A unique id shaped like Meta's: "wamid." + base64 of a short binary record that embeds the
    recipient's number, as the ids in Meta's examples do."""
    digits = to_digits.encode()[:64]
    record = (
        b"\x1c\x18" + bytes([len(digits)]) + digits + b"\x15\x02\x00\x11\x18\x12"
        + secrets.token_hex(9).upper().encode() + b"\x00"
    )
    return "wamid." + base64.b64encode(record).decode()


def folded(value):
    """Graph compares enum values without regard to case (its errors list them upper-case, and
    clients such as pywa send template component types as "BODY")."""
    return value.lower() if isinstance(value, str) else value


def validate(message, templates):
    """Checks a send body the way the Cloud API does; raises Invalid. Returns the message type."""
    if not isinstance(message, dict):
        raise invalid_parameter("The parameter messaging_product is required.")
    product = message.get("messaging_product")
    if product is None or product == "":
        raise invalid_parameter("The parameter messaging_product is required.")
    if folded(product) != "whatsapp":
        raise one_of("messaging_product", product, ["whatsapp"])
    # recipient_type: "individual" (the default) is the only kind this fake sends to.
    if "recipient_type" in message and folded(message["recipient_type"]) != "individual":
        raise one_of("recipient_type", message["recipient_type"], ["individual"])
    to = message.get("to")
    if to is None or to == "":
        raise invalid_parameter("The parameter to is required.")
    if not isinstance(to, str):
        raise invalid_parameter("Param to must be a string.")
    if not re.fullmatch(r"\+?[0-9][0-9 ()\-.]*", to.strip()):
        # Meta documents 131009 for "one or more parameter values are invalid".
        raise Invalid(400, graph_error(131009, details="Recipient phone number is not valid"))
    kind = folded(message.get("type", "text"))  # the reference: when omitted, type defaults to text
    if kind not in MESSAGE_TYPES:
        raise one_of("type", message.get("type"), MESSAGE_TYPES)
    original_kind = message.get("type", "text")
    if kind == "text":
        validate_text(message.get("text"))
    elif kind == "template":
        validate_template(message.get("template"), templates)
    elif not isinstance(message.get(kind, message.get(original_kind)), (dict, list)):
        raise invalid_parameter(f"The parameter {kind} is required.")
    context = message.get("context")
    if context is not None and not (isinstance(context, dict) and isinstance(context.get("message_id"), str)):
        raise invalid_parameter("The parameter context['message_id'] is required.")
    return kind


def validate_text(text):
    if not isinstance(text, dict) or not isinstance(text.get("body"), str) or text["body"] == "":
        raise invalid_parameter("The parameter text['body'] is required.")
    if len(text["body"]) > TEXT_BODY_LIMIT:
        raise invalid_parameter(f"Param text['body'] must be at most {TEXT_BODY_LIMIT} characters long.")
    if "preview_url" in text and not isinstance(text["preview_url"], bool):
        raise invalid_parameter("Param text['preview_url'] must be a boolean.")


def validate_template(template, templates):
    if not isinstance(template, dict):
        raise invalid_parameter("The parameter template is required.")
    name = template.get("name")
    if not isinstance(name, str) or name == "":
        raise invalid_parameter("The parameter template['name'] is required.")
    language = template.get("language")
    if not isinstance(language, dict) or not isinstance(language.get("code"), str) or not language["code"]:
        raise invalid_parameter("The parameter template['language']['code'] is required.")
    if "policy" in language and folded(language["policy"]) != "deterministic":
        raise one_of("template['language']['policy']", language["policy"], ["deterministic"])
    components = template.get("components", [])
    if not isinstance(components, list):
        raise invalid_parameter("Param template['components'] must be an array.")
    body_parameters = 0
    for i, component in enumerate(components):
        where = f"template['components'][{i}]"
        if not isinstance(component, dict):
            raise invalid_parameter(f"Param {where} must be an object.")
        kind = folded(component.get("type"))
        if kind not in COMPONENT_TYPES:
            raise one_of(f"{where}['type']", component.get("type"), COMPONENT_TYPES)
        parameters = component.get("parameters", [])
        if not isinstance(parameters, list):
            raise invalid_parameter(f"Param {where}['parameters'] must be an array.")
        if kind == "button":
            # ButtonComponent: sub_type, index and parameters are required.
            for field in ("sub_type", "index"):
                if field not in component:
                    raise invalid_parameter(f"The parameter {where}['{field}'] is required.")
        if kind != "body":
            continue
        for parameter in parameters:
            body_parameters += 1
            check_body_parameter(parameter)
    known = templates.get(name) if templates is not None else None
    if templates is not None:
        languages = (known or {}).get("languages")
        if known is None or (languages is not None and language["code"] not in languages):
            # 132001 "Template does not exist" answers HTTP 404 in Meta's error-code table.
            raise Invalid(404, graph_error(132001, details=f"template name ({name}) does not exist in {language['code']}"))
        expected = known.get("body_params")
        if expected is not None and expected != body_parameters:
            raise Invalid(
                400,
                graph_error(
                    132000,
                    details=f"body: number of localizable_params ({body_parameters}) does not match "
                    f"the expected number of params ({expected})",
                ),
            )


def check_body_parameter(parameter):
    if not isinstance(parameter, dict):
        raise Invalid(400, graph_error(131009, details="Parameter must be an object"))
    kind = folded(parameter.get("type"))
    if kind not in BODY_PARAMETER_TYPES:
        raise Invalid(400, graph_error(131009, details=f"Invalid parameter type: {json.dumps(kind)}"))
    value = parameter.get(kind)
    if kind == "text":
        if not isinstance(value, str) or value == "":
            # 131008 "Required parameter is missing" (Meta's error-code table).
            raise Invalid(400, graph_error(131008, details="Parameter of type text is missing text value"))
        if "\n" in value or "\t" in value or "     " in value:
            # The live API refuses these with 132018; reported by many integrations, e.g. a
            # parameter carrying a line break.
            raise Invalid(
                400,
                graph_error(
                    132018,
                    details="Param text cannot have new-line/tab characters or more than 4 consecutive spaces",
                ),
            )
    elif not isinstance(value, dict):
        raise Invalid(400, graph_error(131008, details=f"Parameter of type {kind} is missing {kind} value"))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "whatsapp-fake"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 300  # an idle keep-alive connection is closed after this many seconds

    # Set on the class by main().
    settings = None

    def log_message(self, format, *args):
        if self.settings["verbose"]:
            super().log_message(format, *args)

    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send(self, status, body, headers=None, version=None):
        payload = body if isinstance(body, bytes) else (body if isinstance(body, str) else json.dumps(body)).encode()
        names = {k.lower() for k in (headers or {})}
        lines = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}"]
        lines.append("Date: " + self.date_time_string())
        if "content-type" not in names:
            lines.append("Content-Type: application/json; charset=UTF-8")
        lines.append(f"Content-Length: {len(payload)}")
        lines.append("x-fb-trace-id: " + fbtrace_id()[:11])
        lines.append("x-fb-request-id: " + fbtrace_id())
        if version:
            lines.append("facebook-api-version: " + version)
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        if self.close_connection:
            lines.append("Connection: close")
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload)
        self.wfile.flush()

    def body_as_graph_reads_it(self, text, parsed):
        """Graph takes parameters as JSON (Content-Type: application/json) or as a form whose
        nested values are JSON texts. A JSON text sent with a form Content-Type (libcurl's default
        for a POST body) is read as a form, so its fields are missing, as they would be live."""
        content_type = (self.headers.get("Content-Type") or "").lower()
        if "application/x-www-form-urlencoded" not in content_type:
            return parsed
        form = {}
        for key, values in urllib.parse.parse_qs(text, keep_blank_values=True).items():
            value = values[0]
            if value[:1] in ("{", "["):
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
            form[key] = value
        return form

    def handle_any(self):
        raw = self.read_body()
        url = urllib.parse.urlsplit(self.path)
        headers = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = headers[key] + ", " + value if key in headers else value
        text = raw.decode("utf-8", "replace")
        try:
            parsed = json.loads(text) if raw else None
        except ValueError:
            parsed = None
        self.settings["recorder"].record(
            {"method": self.command, "path": self.path, "headers": headers, "json": parsed, "raw": text, "at": time.time()}
        )

        version_match = VERSIONED_PATH.match(url.path)
        version = version_match.group(1) if version_match else None
        match = MESSAGES_PATH.match(url.path)
        if not match:
            component = url.path if not version_match else (version_match.group(2) or "/")
            return self.send(400, graph_error(2500, f"Unknown path components: {component}"), version=version)
        version, phone_number_id = match.groups()

        query = urllib.parse.parse_qs(url.query)
        authorization = self.headers.get("Authorization") or ""
        token = None
        if authorization.lower().startswith("bearer "):
            token = authorization[7:].strip()
        elif "access_token" in query:
            token = query["access_token"][0]
        if not token:
            message = "An access token is required to request this resource."
            return self.send(
                401,
                graph_error(104, message),
                {"WWW-Authenticate": f'OAuth "Facebook Platform" "invalid_request" "{message}"'},
                version,
            )
        if token != self.settings["token"]:
            message = "Invalid OAuth access token - Cannot parse access token"
            return self.send(
                401,
                graph_error(190, message),
                {"WWW-Authenticate": f'OAuth "Facebook Platform" "invalid_token" "{message}"'},
                version,
            )
        if phone_number_id not in self.settings["phone_number_ids"] or self.command != "POST":
            message = (
                f"Unsupported {self.command.lower()} request. Object with ID '{phone_number_id}' does not exist, "
                "cannot be loaded due to missing permissions, or does not support this operation. "
                "Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
            )
            return self.send(
                400,
                graph_error(100, message, type_="GraphMethodException", subcode=33),
                {"WWW-Authenticate": f'OAuth "Facebook Platform" "invalid_request" "{message}"'},
                version,
            )

        message = self.body_as_graph_reads_it(text, parsed)
        to = message.get("to") if isinstance(message, dict) else None
        rule = self.settings["faults"].match(to if isinstance(to, str) else None)
        if rule is not None:
            if rule.get("delay_ms"):
                time.sleep(float(rule["delay_ms"]) / 1000)
            if rule.get("status") is not None:
                status = int(rule["status"])
                body = rule.get("body")
                if body is None:
                    code = DEFAULT_FAULT_CODES.get(status, 1)
                    body = graph_error(code, details=DEFAULT_DETAILS.get(code))
                return self.send(status, body, rule.get("headers") or {}, version)

        templates = read_json(os.path.join(self.settings["dir"], "templates.json"))
        try:
            kind = validate(message, templates if isinstance(templates, dict) else None)
        except Invalid as error:
            return self.send(error.status, error.body, version=version)
        sent = {"id": wamid(re.sub(r"\D", "", to))}
        if kind == "template":
            sent["message_status"] = "accepted"
        answer = {
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": re.sub(r"\D", "", to)}],
            "messages": [sent],
        }
        return self.send(200, answer, version=version)

    def handle_safely(self):
        try:
            self.handle_any()
        except (ConnectionError, socket.timeout):
            self.close_connection = True
        except Exception as error:  # a bug here must be loud, not look like a flaky network
            traceback.print_exc()
            self.close_connection = True
            self.send(500, {"error": {"message": f"whatsapp_fake internal error: {error!r}", "type": "FakeError", "code": -1}})

    do_POST = do_GET = do_PUT = do_DELETE = do_PATCH = handle_safely


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True


def main():
    parser = argparse.ArgumentParser(description="WhatsApp Cloud API send-endpoint fake for tests")
    parser.add_argument("--dir", required=True)
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port (see DIR/ready)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--phone-number-id", required=True, action="append")
    parser.add_argument("--token-file", required=True)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()

    os.makedirs(args.dir, exist_ok=True)
    ready = os.path.join(args.dir, "ready")
    if os.path.exists(ready):
        os.remove(ready)
    with open(args.token_file, encoding="utf-8") as f:
        token = f.read().strip()
    Handler.settings = {
        "dir": args.dir,
        "token": token,
        "phone_number_ids": set(args.phone_number_id),
        "verbose": args.verbose,
        "recorder": Recorder(args.dir),
        "faults": Faults(args.dir),
    }
    if ":" in args.host:
        Server.address_family = socket.AF_INET6
    server = Server((args.host, args.port), Handler)
    port = server.server_address[1]

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    write_ready(args.dir, port)
    print(f"whatsapp_fake: listening on {args.host}:{port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
