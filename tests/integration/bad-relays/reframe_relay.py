#!/usr/bin/env python3
"""A relay that frames its streams every way the SSE standard allows, for
tests/integration/test_sse_framing_live.c: it passes each request to blue
and re-frames each upstream event: a ":keep-alive" comment event first,
then "event: completion" and "id: N" fields, the JSON over several data:
lines (indented, so joining the lines with "\\n" gives it back), line ends
CRLF and bare CR by turns, and "data:[DONE]" without the space.  A valid
relay: a client that reads SSE as the standard says gets the same answer
as from the upstream, so answer_integrity and no_truncated_success pass.

Usage: reframe_relay.py PORT BLUE_URL GREEN_URL  (colour URLs with /v1).
Standard library only (http.server, http.client, json)."""
import http.client
import http.server
import json
import os
import signal
import sys
import urllib.parse

PORT, BLUE = int(sys.argv[1]), sys.argv[2]


def events(resp):
    """The data of each event of an upstream answer (LF framing, one data:
    line each, as the mock sends), until it ends or breaks."""
    try:
        while True:
            line = resp.readline()
            if not line:
                return
            line = line.rstrip(b"\r\n")
            if line.startswith(b"data:"):
                yield line[5:].lstrip(b" ")
    except (http.client.HTTPException, OSError):
        return


def reframe(n, data):
    """Event n (from 0) as the standard allows it to be written."""
    eol = b"\r\n" if n % 2 == 0 else b"\r"
    if data == b"[DONE]":
        return b"event: completion" + eol + b"data:[DONE]" + eol + eol
    lines = json.dumps(json.loads(data), indent=1).encode().split(b"\n")
    out = b": keep-alive" + eol + eol + b"event: completion" + eol
    out += b"id: " + str(n).encode() + eol + b"retry: 1000" + eol
    for i, l in enumerate(lines):
        out += (b"data:" if i % 2 else b"data: ") + l + eol
    return out + eol


class Relay(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # each answer ends with the connection

    def log_message(self, *args):
        pass

    def do_GET(self):
        body = json.dumps({"status": "healthy", "active_env": "blue"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {"Content-Type": "application/json"}
        if self.headers.get("X-Request-ID"):
            headers["X-Request-ID"] = self.headers["X-Request-ID"]
        u = urllib.parse.urlparse(BLUE)
        try:
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
            conn.request("POST", u.path + "/chat/completions", body, headers)
            resp = conn.getresponse()
        except (http.client.HTTPException, OSError):
            self.send_response(502)
            self.end_headers()
            return
        ctype = resp.getheader("Content-Type", "application/json")
        self.send_response(resp.status)
        self.send_header("Content-Type", ctype)
        self.end_headers()
        if not ctype.startswith("text/event-stream"):
            self.wfile.write(resp.read())
            return
        for n, data in enumerate(events(resp)):
            self.wfile.write(reframe(n, data))
            self.wfile.flush()


signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Relay).serve_forever()
