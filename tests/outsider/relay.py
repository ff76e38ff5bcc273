#!/usr/bin/env python3
"""A blue/green relay the way users write one, for cutover's outsider audit
(docs/outsider-audit.md; tests/outsider/).  Python stdlib only: http.server + urllib.

What it does (the "correct-ish" relay):
  POST /llm/chat        the OpenAI chat body; a fresh upstream body from model,
                        messages, stream, temperature, max_tokens (user dropped),
                        no X-Request-ID upstream, no X-Served-By back, no events.
  GET  /status          {"active": colour}
  Failover: a connection error, timeout, 5xx or 429 flips the active colour and
  the request is retried there after an exponential backoff (base * 2^(n-1),
  capped, no jitter), or after Retry-After when the upstream gave one (capped by
  the remaining deadline).  4xx other than 429 is passed through.  When every
  attempt failed, the last upstream status and body go back (502 when no
  upstream answered, 504 when the deadline ran out).  Streams are passed through
  chunk by chunk; a cut or stalled upstream stream ends with an in-band error
  event.  A per-client-key rate limit (fixed window) answers 429 + Retry-After.

Settings come from the environment (defaults in brackets): PORT, BLUE_URL,
GREEN_URL, UPSTREAM_API_KEY, MAX_ATTEMPTS [3], BACKOFF_BASE_MS [100],
BACKOFF_CAP_MS [2000], TRY_TIMEOUT_MS [30000], DEADLINE_MS [60000],
RATE_LIMIT [0: off], RATE_WINDOW_MS [60000], CLIENT_KEYS [none: any client;
else a comma list, an unknown bearer gets 401].

BUG=<name> turns on one realistic defect (see BUGS below), for the audit."""
import json
import signal
import os
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

E = os.environ
URLS = {"blue": E["BLUE_URL"].rstrip("/"), "green": E["GREEN_URL"].rstrip("/")}
KEY = E.get("UPSTREAM_API_KEY", "")
MAX_ATTEMPTS = int(E.get("MAX_ATTEMPTS", "3"))
BASE_MS = int(E.get("BACKOFF_BASE_MS", "100"))
CAP_MS = int(E.get("BACKOFF_CAP_MS", "2000"))
TRY_S = int(E.get("TRY_TIMEOUT_MS", "30000")) / 1000.0
DEADLINE_S = int(E.get("DEADLINE_MS", "60000")) / 1000.0
RATE_LIMIT = int(E.get("RATE_LIMIT", "0"))
RATE_WINDOW_S = int(E.get("RATE_WINDOW_MS", "60000")) / 1000.0
CLIENT_KEYS = [k for k in E.get("CLIENT_KEYS", "").split(",") if k]
BUG = E.get("BUG", "")
BUGS = {
    "same_colour_forever": "retries the failing colour until the deadline, never switches",
    "stuck_on_green": "once on green, a failing green is retried on green only",
    "stateless_failover": "every request starts on blue again (the switch is not kept)",
    "swallow_4xx": "an upstream 4xx becomes 502",
    "retry_4xx": "every error is retried, a 401 too",
    "drop_last_chunk": "the stream's last data chunk before [DONE] is dropped",
    "no_backoff": "retries at once",
    "linear_backoff": "backoff base * n instead of base * 2^(n-1)",
    "ignore_retry_after": "Retry-After is ignored (the exponential backoff instead)",
    "leak_key": "the relay's error body carries the upstream key",
    "global_ratelimit": "one rate-limit bucket for the whole server, not per client",
    "drop_model": "the upstream body's model is replaced by the relay's default",
    "duplicate": "every request goes to both colours, the first answer wins",
    "no_timeout": "no per-try timeout: a stalled upstream holds the request",
    "html_errors": "relay-made errors are HTML pages",
    "error_as_200": "when every attempt failed the client gets 200 with an error body",
    "cut_stream_ok": "a cut upstream stream ends with [DONE] as if complete",
    "drop_history": "only the last message is forwarded",
    "buffer_stream": "a stream is read whole before the first byte goes to the client",
    "no_deadline": "no overall deadline: every attempt runs its full try timeout",
    "wrong_ctype": "JSON answers go back as text/plain",
}
if BUG and BUG not in BUGS:
    sys.exit(f"relay.py: unknown BUG {BUG!r}")
if BUG == "no_timeout":
    TRY_S = None
if BUG == "no_deadline":
    DEADLINE_S = 3600.0

lock = threading.Lock()
state = {"active": "blue"}
buckets = {}  # client key -> (window start, count)


def other(c):
    return "green" if c == "blue" else "blue"


def backoff_s(n, retry_after):
    """The wait before attempt n+1 (n failed attempts so far)."""
    if retry_after is not None and BUG != "ignore_retry_after":
        return retry_after
    if BUG == "no_backoff":
        return 0.0
    if BUG == "linear_backoff":
        return min(CAP_MS, BASE_MS * n) / 1000.0
    return min(CAP_MS, BASE_MS * (2 ** (n - 1))) / 1000.0


def admit(client):
    if RATE_LIMIT <= 0:
        return None
    k = "*" if BUG == "global_ratelimit" else client
    now = time.monotonic()
    with lock:
        start, count = buckets.get(k, (now, 0))
        if now - start >= RATE_WINDOW_S:
            start, count = now, 0
        if count >= RATE_LIMIT:
            return max(1, int(RATE_WINDOW_S - (now - start) + 0.999))
        buckets[k] = (start, count + 1)
    return None


class Upstream(Exception):
    def __init__(self, status, body, retry_after=None):
        super().__init__(f"upstream {status}")
        self.status, self.body, self.retry_after = status, body, retry_after


def call(colour, body, timeout):
    req = urllib.request.Request(URLS[colour] + "/chat/completions", data=json.dumps(body).encode(),
                                 method="POST",
                                 headers={"Authorization": f"Bearer {KEY}",
                                          "Content-Type": "application/json"})
    try:
        return urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        ra = e.headers.get("Retry-After")
        try:
            ra = float(ra) if ra is not None else None
        except ValueError:
            ra = None
        raise Upstream(e.code, e.read(), ra)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send_json(self, status, obj, extra=None):
        data = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
        ctype = "application/json"
        if BUG == "wrong_ctype":
            ctype = "text/plain"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def relay_error(self, status, message, typ="upstream_error"):
        if BUG == "leak_key":
            message += f" (calling upstream with key {KEY})"
        if BUG == "html_errors":
            page = f"<html><body><h1>{status} Error</h1><p>{message}</p></body></html>".encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            return
        if BUG == "error_as_200":
            status = 200
        self.send_json(status, {"error": {"message": message, "type": typ}})

    def do_GET(self):
        if self.path == "/status":
            self.send_json(200, {"active": state["active"]})
        else:
            self.send_json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def do_POST(self):
        with lock:
            INFLIGHT[0] += 1
        try:
            self.post()
        finally:
            with lock:
                INFLIGHT[0] -= 1

    def post(self):
        if self.path != "/llm/chat":
            self.send_json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
            return
        n = int(self.headers.get("Content-Length") or 0)
        try:
            b = json.loads(self.rfile.read(n))
        except ValueError:
            self.send_json(400, {"error": {"message": "bad JSON", "type": "invalid_request_error"}})
            return
        client = self.headers.get("Authorization", "")
        if CLIENT_KEYS and client.removeprefix("Bearer ") not in CLIENT_KEYS:
            self.send_json(401, {"error": {"message": "unknown client key",
                                           "type": "invalid_request_error"}})
            return
        wait = admit(client)
        if wait is not None:
            self.send_json(429, {"error": {"message": "rate limited", "type": "rate_limit_error"}},
                           {"Retry-After": str(wait)})
            return
        body = {k: b[k] for k in ("model", "messages", "stream", "temperature", "max_tokens")
                if k in b}
        if BUG == "drop_model":
            body["model"] = "gpt-4o-mini"
        if BUG == "drop_history" and body.get("messages"):
            body["messages"] = body["messages"][-1:]
        self.forward(body)

    def pick(self, prev, failed):
        with lock:
            if BUG == "stateless_failover":
                return "blue" if prev is None else other(prev)
            if prev is not None and failed:
                if BUG == "same_colour_forever":
                    return prev
                if BUG == "stuck_on_green" and prev == "green":
                    return "green"
                if state["active"] == prev:
                    state["active"] = other(prev)
            return state["active"]

    def forward(self, body):
        deadline = time.monotonic() + DEADLINE_S
        last, colour, n = None, None, 0
        while True:
            n += 1
            colour = self.pick(colour, n > 1)
            left = deadline - time.monotonic()
            if left <= 0:
                return self.relay_error(504, "deadline exceeded", "timeout")
            timeout = None if TRY_S is None else min(TRY_S, left)
            try:
                if BUG == "duplicate":
                    up = self.race(body, timeout)
                else:
                    up = call(colour, body, timeout)
                return self.answer(up, body)
            except Upstream as e:
                last = e
                retry = e.status >= 500 or e.status == 429
                if BUG == "retry_4xx":
                    retry = True
                if not retry:
                    if BUG == "swallow_4xx":
                        return self.relay_error(502, f"upstream said {e.status}")
                    return self.send_json(e.status, e.body)
                ra = e.retry_after
            except (OSError, socket.timeout, urllib.error.URLError) as e:
                last = Upstream(502, None)
                ra = None
                _ = e
            limit = MAX_ATTEMPTS if BUG not in ("same_colour_forever",) else 10 ** 6
            if n >= limit:
                break
            pause = backoff_s(n, ra)
            if time.monotonic() + pause >= deadline:
                if ra is not None:
                    break
                pause = max(0.0, deadline - time.monotonic())
            time.sleep(pause)
        if last.body is not None and BUG != "error_as_200" and BUG != "html_errors":
            return self.send_json(last.status, last.body)
        return self.relay_error(last.status if last.body is not None else 502,
                                f"all {n} attempts failed")

    def race(self, body, timeout):
        """BUG duplicate: both colours at once, the first success wins."""
        out, done = [], threading.Event()

        def one(c):
            try:
                out.append(call(c, body, timeout))
                done.set()
            except Exception as e:  # noqa: BLE001 - collected below
                out.append(e)
                if len(out) == 2:
                    done.set()

        for c in ("blue", "green"):
            threading.Thread(target=one, args=(c,), daemon=True).start()
        done.wait()
        for r in out:
            if not isinstance(r, Exception):
                return r
        raise out[0]

    def answer(self, up, body):
        if not body.get("stream"):
            data = up.read()
            up.close()
            return self.send_json(200, data)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        events, done, finished, cut = [], False, False, False
        try:
            while True:
                line = up.readline()
                if not line:
                    break
                if line.startswith(b"data: [DONE]"):
                    done = True
                if b'"finish_reason":"' in line or b'"finish_reason": "' in line:
                    finished = True
                if BUG == "drop_last_chunk":
                    events.append(line)
                    continue
                if BUG == "buffer_stream":
                    events.append(line)
                    continue
                self.chunk(line)
        except (OSError, ValueError, Exception):  # cut, reset or stalled
            cut = True
        up.close()
        if BUG == "drop_last_chunk":
            data_lines = [i for i, l in enumerate(events)
                          if l.startswith(b"data: ") and not l.startswith(b"data: [DONE]")]
            if data_lines:
                drop = data_lines[-1]
                events = events[:drop] + events[drop + 2:]  # the line and its blank line
            self.chunk(b"".join(events))
        if BUG == "buffer_stream":
            self.chunk(b"".join(events))
        if not done:
            if BUG == "cut_stream_ok":
                self.chunk(b"data: [DONE]\n\n")
            elif cut or not finished:
                err = {"error": {"message": "upstream stream ended early", "type": "upstream_error"}}
                self.chunk(b"data: " + json.dumps(err).encode() + b"\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        self.close_connection = True


INFLIGHT = [0]


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


if __name__ == "__main__":
    srv = Server(("127.0.0.1", int(E["PORT"])), Handler)
    print(f"relay.py listening on http://127.0.0.1:{E['PORT']}" + (f" BUG={BUG}" if BUG else ""),
          flush=True)
    # SIGTERM: stop accepting, let the open requests end, exit 0.
    # SIGTERM: stop accepting, let the requests in flight end (up to 5 s),
    # exit 0.  Idle keep-alive connections are not waited for.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown).start())
    srv.serve_forever()
    srv.socket.close()
    end = time.monotonic() + 5
    while INFLIGHT[0] and time.monotonic() < end:
        time.sleep(0.01)
    os._exit(0)
