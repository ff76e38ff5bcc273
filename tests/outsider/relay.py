#!/usr/bin/env python3
"""A blue/green relay the way users write one, for cutover's outsider audit
(docs/outsider-audit.md; tests/outsider/).  Python stdlib only: http.server + urllib.

What it does (the "correct-ish" relay):
  POST /llm/chat        the OpenAI chat body, forwarded with every field but
                        user (dropped; round 1 rebuilt it from five known fields,
                        now BUG=whitelist_body), no X-Request-ID upstream, no
                        X-Served-By back, no events.
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

BUG=<name> turns on one realistic defect (see BUGS below), for the audit
(round 1: the first 21; round 2: the rest)."""
import json
import os
import socket
import sys
import threading
import time
import urllib.error
import urllib.request

from outsider_http import Handler as BaseHandler, serve

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
    # Round 2 (docs/outsider-audit.md): defects round 1 did not try.
    "uncapped_backoff": "the exponential backoff is not capped by BACKOFF_CAP_MS",
    "retry_after_ms": "Retry-After is read as milliseconds (1 means 1 ms)",
    "retry_past_deadline": "a Retry-After or backoff past the deadline is slept in full and the next attempt sent after the deadline",
    "window_factor": "the rate-limit window is read as 1/10 of RATE_WINDOW_MS (ms vs 10 ms units)",
    "ratelimit_no_retry_after": "the relay's own 429 carries no Retry-After",
    "ratelimit_off_by_one": "the limiter admits RATE_LIMIT + 1 per window",
    "count_refused": "refused requests restart the client's window: a client that keeps calling stays locked out",
    "retry_partial_stream": "a stream cut after bytes went out is retried on the other colour and appended",
    "double_done": "a stream ends with data: [DONE] twice",
    "reorder_events": "the second and third data events of a stream go out swapped",
    "whitelist_body": "only model, messages, stream, temperature, max_tokens are forwarded (tools, stream_options... dropped)",
    "retry_body_lost": "attempts after the first send the body without its messages (the body was consumed)",
    "no_key_on_green": "green gets no Authorization header (the key is set for blue only)",
    "client_key_upstream": "the client's own Authorization goes upstream instead of the relay's key",
    "narrow_retry_set": "only 500, 503 and 429 are retried; 502, 504, 408 go straight to the client",
    "switch_on_4xx": "an upstream 4xx (not 429) flips the active colour, though it is passed through",
    "flip_flop": "every failed attempt flips the active colour, even when another request already did",
    "no_cancel_on_disconnect": "a client gone mid-stream does not stop the upstream stream (read to its end)",
    "utf8_content_length": "relay-made errors count Content-Length in characters, not bytes (a non-ASCII message is cut)",
    "log_key": "the upstream key is printed in the relay's log on every request",
    "ignore_max_attempts": "MAX_ATTEMPTS is read but 3 attempts are always made",
    "failback_early": "a relay on green goes back to blue after 300 ms whatever blue's state",
}
if BUG and BUG not in BUGS:
    sys.exit(f"relay.py: unknown BUG {BUG!r}")
if BUG == "no_timeout":
    TRY_S = None
if BUG == "no_deadline":
    DEADLINE_S = 3600.0
if BUG == "window_factor":
    RATE_WINDOW_S /= 10.0
if BUG == "ignore_max_attempts":
    MAX_ATTEMPTS = 3

lock = threading.Lock()
state = {"active": "blue", "since": 0.0}
buckets = {}  # client key -> (window start, count)


def other(c):
    return "green" if c == "blue" else "blue"


def backoff_s(n, retry_after):
    """The wait before attempt n+1 (n failed attempts so far)."""
    if retry_after is not None and BUG != "ignore_retry_after":
        return retry_after / 1000.0 if BUG == "retry_after_ms" else retry_after
    if BUG == "no_backoff":
        return 0.0
    if BUG == "linear_backoff":
        return min(CAP_MS, BASE_MS * n) / 1000.0
    if BUG == "uncapped_backoff":
        return BASE_MS * (2 ** (n - 1)) / 1000.0
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
        if count >= RATE_LIMIT + (1 if BUG == "ratelimit_off_by_one" else 0):
            if BUG == "count_refused":
                buckets[k] = (now, count)
            return max(1, int(RATE_WINDOW_S - (now - start) + 0.999))
        buckets[k] = (start, count + 1)
    return None


class Upstream(Exception):
    def __init__(self, status, body, retry_after=None):
        super().__init__(f"upstream {status}")
        self.status, self.body, self.retry_after = status, body, retry_after


def call(colour, body, timeout, client_auth=""):
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    if BUG == "no_key_on_green" and colour == "green":
        del headers["Authorization"]
    if BUG == "client_key_upstream" and client_auth:
        headers["Authorization"] = client_auth
    req = urllib.request.Request(URLS[colour] + "/chat/completions", data=json.dumps(body).encode(),
                                 method="POST", headers=headers)
    try:
        return urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        ra = e.headers.get("Retry-After")
        try:
            ra = float(ra) if ra is not None else None
        except ValueError:
            ra = None
        raise Upstream(e.code, e.read(), ra)


class Handler(BaseHandler):
    def send_json(self, status, obj, extra=None):
        data = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
        ctype = "application/json"
        if BUG == "wrong_ctype":
            ctype = "text/plain"
        length = None
        if BUG == "utf8_content_length" and not isinstance(obj, bytes):
            length = len(json.dumps(obj, ensure_ascii=False))
            data = json.dumps(obj, ensure_ascii=False).encode()
        self.reply(status, data, ctype, extra, length)

    def relay_error(self, status, message, typ="upstream_error"):
        if BUG == "utf8_content_length":
            message += " \u2014 upstream unavailable"
        if BUG == "leak_key":
            message += f" (calling upstream with key {KEY})"
        if BUG == "html_errors":
            page = f"<html><body><h1>{status} Error</h1><p>{message}</p></body></html>".encode()
            return self.reply(status, page, "text/html")
        if BUG == "error_as_200":
            status = 200
        self.send_json(status, {"error": {"message": message, "type": typ}})

    def do_GET(self):
        if self.path == "/status":
            self.send_json(200, {"active": state["active"]})
        else:
            self.send_json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    def do_POST(self):
        self.counted(self.post)

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
                           {} if BUG == "ratelimit_no_retry_after" else {"Retry-After": str(wait)})
            return
        if BUG == "log_key":
            print(f"forwarding with Authorization: Bearer {KEY}", flush=True)
        self.client_auth = client
        body = {k: v for k, v in b.items() if k != "user"}
        if BUG == "whitelist_body":
            body = {k: b[k] for k in ("model", "messages", "stream", "temperature", "max_tokens")
                    if k in b}
        if BUG == "drop_model":
            body["model"] = "gpt-4o-mini"
        if BUG == "drop_history" and body.get("messages"):
            body["messages"] = body["messages"][-1:]
        self.forward(body)

    def pick(self, prev, failed):
        with lock:
            if (BUG == "failback_early" and state["active"] == "green"
                    and time.monotonic() - state["since"] > 0.3):
                state["active"] = "blue"
            if BUG == "stateless_failover":
                return "blue" if prev is None else other(prev)
            if prev is not None and failed:
                if BUG == "same_colour_forever":
                    return prev
                if BUG == "stuck_on_green" and prev == "green":
                    return "green"
                if BUG == "flip_flop":
                    state["active"] = other(state["active"])
                    state["since"] = time.monotonic()
                    return other(prev)
                if state["active"] == prev:
                    state["active"] = other(prev)
                    state["since"] = time.monotonic()
            return state["active"]

    def forward(self, body):
        deadline = time.monotonic() + DEADLINE_S
        last, colour, n = None, None, 0
        while True:
            n += 1
            colour = self.pick(colour, n > 1)
            left = deadline - time.monotonic()
            if left <= 0 and BUG != "retry_past_deadline":
                return self.relay_error(504, "deadline exceeded", "timeout")
            timeout = None if TRY_S is None else min(TRY_S, left)
            if BUG == "retry_past_deadline":
                timeout = TRY_S
            sent = body
            if BUG == "retry_body_lost" and n > 1:
                sent = {k: v for k, v in body.items() if k != "messages"}
            try:
                if BUG == "duplicate":
                    up = self.race(body, timeout)
                else:
                    up = call(colour, sent, timeout, getattr(self, "client_auth", ""))
                if self.answer(up, body) == "retry":
                    last = Upstream(502, None)
                    if n >= MAX_ATTEMPTS:
                        return self.end_stream(True)
                    continue
                return None
            except Upstream as e:
                last = e
                retry = e.status >= 500 or e.status == 429
                if BUG == "narrow_retry_set":
                    retry = e.status in (500, 503, 429)
                if BUG == "retry_4xx":
                    retry = True
                if not retry:
                    if BUG == "switch_on_4xx":
                        with lock:
                            state["active"] = other(colour)
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
            if time.monotonic() + pause >= deadline and BUG != "retry_past_deadline":
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
        if not getattr(self, "stream_started", False):
            self.start_stream()
        self.stream_started = True
        events, done, finished, cut = [], False, False, False
        held, n_data, client_gone = None, 0, False
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
                if BUG == "reorder_events" and line.startswith(b"data: ") and not done:
                    n_data += 1
                    if n_data == 2:
                        held = line
                        continue
                    if n_data == 3:
                        self.chunk(line + b"\n")
                        line = held
                        held = None
                if BUG == "no_cancel_on_disconnect":
                    if client_gone:
                        continue
                    try:
                        self.chunk(line)
                    except OSError:
                        client_gone = True
                    continue
                self.chunk(line)
        except (OSError, ValueError, Exception):  # cut, reset or stalled
            cut = True
        if held is not None:
            self.chunk(held)
        up.close()
        if BUG == "retry_partial_stream" and not done and (cut or not finished):
            return "retry"
        if BUG == "double_done" and done:
            self.chunk(b"data: [DONE]\n\n")
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
        self.end_stream_chunks()

    def end_stream(self, failed):
        """BUG retry_partial_stream: the last retried stream also failed."""
        if failed:
            err = {"error": {"message": "upstream stream ended early", "type": "upstream_error"}}
            self.chunk(b"data: " + json.dumps(err).encode() + b"\n\n")
        self.end_stream_chunks()


if __name__ == "__main__":
    serve(Handler,
          f"relay.py listening on http://127.0.0.1:{E['PORT']}" + (f" BUG={BUG}" if BUG else ""))
