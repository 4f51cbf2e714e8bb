#!/usr/bin/env python3
"""Records every HTTP request it gets, for tests that expect a callback (Kannel's delivery
reports to a dlr-url, later provider webhooks).

    python3 http_recorder.py --dir DIR --port P

Answers every GET or POST with 200 "ok". Each request is one JSON line appended to
DIR/received.jsonl: {"method", "path", "query" (decoded, a list of values per name), "headers"
(lower-cased names), "body"}. Writes DIR/ready ({"port", "pid", "url"}) once listening; stops on
SIGTERM.
"""
import argparse
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from peerkit import Recorder, write_ready


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    recorder = Recorder(args.dir)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def record(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
            parts = urlsplit(self.path)
            entry = {
                "method": self.command,
                "path": parts.path,
                "query": parse_qs(parts.query, keep_blank_values=True),
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body,
            }
            recorder.record(entry)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        do_GET = record
        do_POST = record

        def log_message(self, *_):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    write_ready(args.dir, server.server_address[1])
    server.serve_forever()


if __name__ == "__main__":
    main()
