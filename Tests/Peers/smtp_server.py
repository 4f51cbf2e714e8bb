#!/usr/bin/env python3
"""A small recording SMTP server for the e-mail plugin's tests (aiosmtpd).

    python3 smtp_server.py --dir DIR --port P [--tls-cert C --tls-key K]
                           [--auth-user U --auth-password-file F] [--require-tls]

Listens on 127.0.0.1:P (P = 0 picks a free port). DIR/ready is written once listening:
{"port", "pid", "url"}. SIGTERM or SIGINT stops the server (exit 0), and so does the end of
the process that started it.

  * Every accepted message is appended to DIR/received.jsonl as one JSON line, flushed at once:
    {"mail_from", "rcpt_tos", "mail_options", "data", "data_encoding", "tls", "auth_user",
     "connection", "peer"}
    "data" is the message as received after the DATA command (CRLF line ends, dot-stuffing
    removed), decoded as UTF-8, or as latin-1 if it is not valid UTF-8 ("data_encoding" says
    which). "tls" is true when the session was upgraded with STARTTLS. "connection" numbers
    the TCP connections from 1, so messages sent over one connection share it.
  * --tls-cert/--tls-key offer STARTTLS; --require-tls answers 530 to anything but EHLO/HELO,
    NOOP, QUIT and STARTTLS until STARTTLS was done.
  * --auth-user requires AUTH (PLAIN or LOGIN) before MAIL (530 otherwise); the password is
    the content of --auth-password-file (trailing newlines dropped). Wrong credentials: 535.
    When TLS is offered, AUTH is accepted only after STARTTLS (538 before).
  * Fault injection: DIR/faults.json, read again at every RCPT and DATA if present, is a list
    of rules {"rcpt_contains": "bad@", "stage": "rcpt" | "data", "code": 550,
    "message": "5.1.1 no such user", "times": N}. At RCPT the rule matches when rcpt_contains
    occurs in that recipient; at DATA (the reply after the message body) when it occurs in any
    accepted recipient. A missing rcpt_contains matches everything. The first matching rule
    answers "<code> <message>" instead of accepting (a message refused at DATA is not
    recorded). With "times", the rule applies to its first N matches only; the counts are kept
    in memory per rule (same JSON text = same rule).
"""

import argparse
import asyncio
import itertools
import json
import logging
import os
import signal
import ssl
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from peerkit import write_ready

log = logging.getLogger("smtp_server")


class Faults:
    def __init__(self, path):
        self.path = path
        self.used = {}  # rule text -> times applied

    def rules(self):
        try:
            with open(self.path, encoding="utf-8") as f:
                rules = json.load(f)
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as e:
            log.error("ignoring %s: %s", self.path, e)
            return []
        if not isinstance(rules, list):
            log.error("ignoring %s: not a JSON list", self.path)
            return []
        return [r for r in rules if isinstance(r, dict)]

    def reply(self, stage, recipients):
        """The injected reply for this stage and these recipients, or None."""
        for rule in self.rules():
            if rule.get("stage", "rcpt") != stage:
                continue
            needle = rule.get("rcpt_contains") or ""
            if not any(needle in r for r in recipients):
                continue
            key = json.dumps(rule, sort_keys=True)
            times = rule.get("times")
            if times is not None and self.used.get(key, 0) >= times:
                continue
            self.used[key] = self.used.get(key, 0) + 1
            return "%d %s" % (int(rule.get("code", 550)), rule.get("message", "injected failure"))
        return None


class Recorder:
    """aiosmtpd handler: applies the faults and appends accepted messages to received.jsonl."""

    def __init__(self, directory):
        self.faults = Faults(os.path.join(directory, "faults.json"))
        self.out = open(os.path.join(directory, "received.jsonl"), "a", encoding="utf-8")
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.faults.reply("rcpt", [address])
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        reply = self.faults.reply("data", envelope.rcpt_tos)
        if reply:
            return reply
        raw = envelope.original_content or b""
        try:
            data, encoding = raw.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            data, encoding = raw.decode("latin-1"), "latin-1"
        peer = session.peer
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "mail_options": list(envelope.mail_options),
            "data": data,
            "data_encoding": encoding,
            "tls": session.ssl is not None,
            "auth_user": session.auth_data if session.authenticated else None,
            "connection": server.connection_id,
            "peer": "%s:%s" % (peer[0], peer[1]) if isinstance(peer, tuple) else str(peer),
        }
        self.out.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.out.flush()
        self.count += 1
        return "250 OK queued as %d" % self.count


class Connection(SMTP):
    """One instance per TCP connection (it survives STARTTLS), hence the connection id."""

    ids = itertools.count(1)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.connection_id = next(Connection.ids)


def make_authenticator(user, password):
    def authenticate(server, session, envelope, mechanism, auth_data):
        if (isinstance(auth_data, LoginPassword)
                and auth_data.login == user.encode()
                and auth_data.password == password.encode()):
            return AuthResult(success=True, auth_data=user)
        return AuthResult(success=False, handled=False)  # aiosmtpd answers 535
    return authenticate


def parse_args():
    p = argparse.ArgumentParser(description="Recording SMTP server for tests")
    p.add_argument("--dir", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--auth-user")
    p.add_argument("--auth-password-file")
    p.add_argument("--require-tls", action="store_true")
    a = p.parse_args()
    if bool(a.tls_cert) != bool(a.tls_key):
        p.error("--tls-cert and --tls-key go together")
    if a.require_tls and not a.tls_cert:
        p.error("--require-tls needs --tls-cert and --tls-key")
    if bool(a.auth_user) != bool(a.auth_password_file):
        p.error("--auth-user and --auth-password-file go together")
    return a


async def serve(a):
    loop = asyncio.get_running_loop()
    options = {"hostname": "localhost", "enable_SMTPUTF8": True, "loop": loop}
    if a.tls_cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        options.update(tls_context=ctx, require_starttls=a.require_tls)
    if a.auth_user:
        with open(a.auth_password_file, encoding="utf-8") as f:
            password = f.read().rstrip("\r\n")
        options.update(authenticator=make_authenticator(a.auth_user, password),
                       auth_required=True,
                       auth_require_tls=bool(a.tls_cert))
    handler = Recorder(a.dir)
    server = await loop.create_server(lambda: Connection(handler, **options),
                                      host="127.0.0.1", port=a.port)
    port = server.sockets[0].getsockname()[1]

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    write_ready(a.dir, port, scheme="smtp")
    log.info("listening on 127.0.0.1:%d", port)

    # Also stop when the test process that started us is gone (we were re-parented).
    parent = os.getppid()
    while not stop.is_set() and os.getppid() == parent:
        try:
            await asyncio.wait_for(stop.wait(), 0.5)
        except asyncio.TimeoutError:
            pass
    server.close()
    handler.out.close()


def main():
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # aiosmtpd warns about its own deprecated attribute on every AUTH; keep its errors only.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    asyncio.run(serve(parse_args()))


if __name__ == "__main__":
    main()
