#!/usr/bin/env python3
"""A second outsider relay, the kind with everything written in code:
primary/fallback with fail-back, fixed retry settings, its own method and path.

  PUT /v1/gateway/chat   the OpenAI chat body, forwarded as it came (user kept,
                         no X-Request-ID, no X-Served-By)
  GET /ping              "pong"
  Blue is primary.  Every second a thread asks each colour's /health; blue
  failing its probe twice sends traffic to green, blue passing twice brings it
  back.  A request gets 2 attempts: the preferred colour, then at once (no
  backoff) the other one, on a connection error, a timeout or a 5xx/429.
  Timeout 5 s per attempt.  Anything else is passed through.
Only PORT, BLUE_URL, GREEN_URL, OPENAI_API_KEY come from the environment."""
import http.client
import json
import os
import threading
import time
import urllib.parse

from outsider_http import Handler as BaseHandler, serve

E = os.environ
URLS = {"blue": E["BLUE_URL"].rstrip("/"), "green": E["GREEN_URL"].rstrip("/")}
KEY = E.get("OPENAI_API_KEY", "")
ATTEMPTS, TIMEOUT_S, PROBE_S, FALL, RISE = 2, 5.0, 1.0, 2, 2
state = {"preferred": "blue", "fails": 0, "oks": 0}
lock = threading.Lock()


def conn(colour, timeout):
    u = urllib.parse.urlsplit(URLS[colour])
    return http.client.HTTPConnection(u.hostname, u.port, timeout=timeout), u.path


def prober():
    while True:
        time.sleep(PROBE_S)
        try:
            c, base = conn("blue", 1.0)
            c.request("GET", base + "/health")
            ok = c.getresponse().status == 200
            c.close()
        except OSError:
            ok = False
        with lock:
            if ok:
                state["oks"], state["fails"] = state["oks"] + 1, 0
                if state["oks"] >= RISE:
                    state["preferred"] = "blue"
            else:
                state["fails"], state["oks"] = state["fails"] + 1, 0
                if state["fails"] >= FALL:
                    state["preferred"] = "green"


class Handler(BaseHandler):
    def do_GET(self):
        if self.path == "/ping":
            return self.reply(200, b"pong", "text/plain")
        self.reply(404, b'{"error":{"message":"not found","type":"invalid_request_error"}}')

    def do_PUT(self):
        self.counted(self.put)

    def put(self):
        if self.path != "/v1/gateway/chat":
            return self.reply(404, b'{"error":{"message":"not found","type":"invalid_request_error"}}')
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            stream = bool(json.loads(raw).get("stream"))
        except ValueError:
            return self.reply(400, b'{"error":{"message":"bad JSON","type":"invalid_request_error"}}')
        with lock:
            first = state["preferred"]
        order = [first, "green" if first == "blue" else "blue"][:ATTEMPTS]
        last = (502, b'{"error":{"message":"no upstream answered","type":"upstream_error"}}')
        for colour in order:
            try:
                c, base = conn(colour, TIMEOUT_S)
                c.request("POST", base + "/chat/completions", body=raw,
                          headers={"Authorization": f"Bearer {KEY}",
                                   "Content-Type": "application/json"})
                up = c.getresponse()
            except OSError:
                continue
            if up.status >= 500 or up.status == 429:
                last = (up.status, up.read())
                c.close()
                continue
            if up.status != 200 or not stream:
                body = up.read()
                c.close()
                return self.reply(up.status, body)
            self.start_stream()
            try:
                while True:
                    line = up.readline()
                    if not line:
                        break
                    self.chunk(line)
            except OSError:
                pass
            c.close()
            self.end_stream_chunks()
            return
        self.reply(last[0], last[1])


if __name__ == "__main__":
    serve(Handler, f"relay2.py listening on http://127.0.0.1:{E['PORT']}", threads=[prober])
