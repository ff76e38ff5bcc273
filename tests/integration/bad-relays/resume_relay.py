#!/usr/bin/env python3
"""A blue-green relay that resumes a broken stream on the other colour, for
tests/integration/test_answers_live.c: when an upstream stream ends before
its data: [DONE] after tokens already went to the client, it sends the same
request to the other colour and passes on that answer's tokens from where
the first one stopped.  Both colours answer the same messages with the same
text, so a resume that skips exactly the tokens already sent gives the
client the whole answer; with SKIP_EXTRA=1 (the bug) it skips one token
more and the client's answer silently lacks a token, the failover bug
answer_integrity must catch.

Usage: resume_relay.py PORT BLUE_URL GREEN_URL  (colour URLs with /v1).
Standard library only (http.server, http.client, json)."""
import http.client
import http.server
import json
import os
import signal
import sys
import urllib.parse

PORT, URLS = int(sys.argv[1]), {"blue": sys.argv[2], "green": sys.argv[3]}
SKIP_EXTRA = int(os.environ.get("SKIP_EXTRA", "0"))
ACTIVE = ["blue"]


def other(env):
    return "green" if env == "blue" else "blue"


def upstream(env, body, headers):
    u = urllib.parse.urlparse(URLS[env])
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    conn.request("POST", u.path + "/chat/completions", body, headers)
    return conn, conn.getresponse()


def events(resp):
    """The data: payloads of an SSE answer, until it ends or breaks."""
    try:
        while True:
            line = resp.readline()
            if not line:
                return
            line = line.strip()
            if line.startswith(b"data:"):
                yield line[5:].strip()
    except (http.client.HTTPException, OSError):
        return


class Relay(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # each answer ends with the connection

    def log_message(self, *args):
        pass

    def do_GET(self):
        body = json.dumps({"status": "healthy", "active_env": ACTIVE[0]}).encode()
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
        try:
            stream = bool(json.loads(body).get("stream"))
        except ValueError:
            stream = False
        env = ACTIVE[0]
        if stream:
            return self.stream(env, body, headers)
        for env in (env, other(env)):
            try:
                conn, resp = upstream(env, body, headers)
                data = resp.read()
            except (http.client.HTTPException, OSError):
                ACTIVE[0] = other(env)
                continue
            if resp.status >= 500:
                ACTIVE[0] = other(env)
                continue
            try:
                json.loads(data)
            except ValueError:  # a body cut half-way: try the other colour
                ACTIVE[0] = other(env)
                continue
            self.send_response(resp.status)
            self.send_header("Content-Type", resp.getheader("Content-Type", "application/json"))
            self.end_headers()
            self.wfile.write(data)
            return
        self.send_response(502)
        self.end_headers()

    def stream(self, env, body, headers):
        sent = 0  # content tokens the client has
        started = False
        for env in (env, other(env)):
            conn, resp = upstream(env, body, headers)
            if resp.status != 200:
                ACTIVE[0] = other(env)
                continue
            if not started:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                started = True
            skip = sent + (SKIP_EXTRA if sent else 0)
            seen = 0
            for data in events(resp):
                if data == b"[DONE]":
                    self.wfile.write(b"data: [DONE]\n\n")
                    return
                chunk = json.loads(data)
                choices = chunk.get("choices") or []
                delta = choices[0].get("delta", {}) if choices else {}
                if "content" in delta and delta.get("content") and "role" not in delta:
                    seen += 1
                    if seen <= skip:
                        continue  # the client has it (or, with the bug, one more)
                    sent += 1
                elif sent and "role" in delta:
                    continue  # a resumed answer's opening chunk
                self.wfile.write(b"data: " + data + b"\n\n")
                self.wfile.flush()
            ACTIVE[0] = other(env)  # broke before [DONE]: resume on the other colour
        if not started:
            self.send_response(502)
            self.end_headers()


signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Relay).serve_forever()
