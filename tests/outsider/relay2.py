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
import signal
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, body, ctype="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/ping":
            return self.reply(200, b"pong", "text/plain")
        self.reply(404, b'{"error":{"message":"not found","type":"invalid_request_error"}}')

    def do_PUT(self):
        with lock:
            INFLIGHT[0] += 1
        try:
            self.put()
        finally:
            with lock:
                INFLIGHT[0] -= 1

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
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                while True:
                    line = up.readline()
                    if not line:
                        break
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                    self.wfile.flush()
            except OSError:
                pass
            c.close()
            self.wfile.write(b"0\r\n\r\n")
            self.close_connection = True
            return
        self.reply(last[0], last[1])


INFLIGHT = [0]


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


if __name__ == "__main__":
    srv = Server(("127.0.0.1", int(E["PORT"])), Handler)
    threading.Thread(target=prober, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown).start())
    print(f"relay2.py listening on http://127.0.0.1:{E['PORT']}", flush=True)
    srv.serve_forever()
    srv.socket.close()
    end = time.monotonic() + 5
    while INFLIGHT[0] and time.monotonic() < end:
        time.sleep(0.01)
    os._exit(0)
