#!/usr/bin/env python3
"""Round 4 of cutover's outsider audit (docs/outsider-audit.md): a blue/green
relay in another idiom than rounds 1-3 (relay.py's threads and urllib,
express3.js's Express and fetch): one asyncio event loop, HTTP/1.1 written
by hand on raw streams both ways, a pool of kept-alive upstream connections.
Python standard library only.

  POST /ai/chat   the OpenAI chat body, forwarded byte for byte (the
                  client's Authorization stays here; the upstream gets the
                  relay's key), no X-Request-ID, no X-Served-By, no events
  GET  /healthz   {"active": colour}

Failover: a connect error, a try timeout (no status line in time), a 5xx,
408 or 429 makes the other colour the active one (kept for the requests
that follow: no fail-back) and the request is retried there after
Retry-After (seconds, an HTTP date, or retry-after-ms; capped by
RETRY_AFTER_CAP_MS and the time left) or else base * 2^(n-1) capped.
Another 4xx goes back at once.  After the last attempt the last upstream
answer goes back with its Retry-After (502 when none answered, 504 past
the deadline).  Streams pass chunk by chunk; a stream that breaks, stays
silent for IDLE_TIMEOUT_MS or ends unfinished without [DONE] ends with an
in-band error event (a finished one without [DONE] gets it added).  The try
timeout covers a JSON answer's whole body, and a 200 that is not JSON is a
failure.  The relay's key is scrubbed from everything passed on (across
stream pieces).  A client that leaves stops its upstream work; SIGTERM
drains (5 s at most).  Rate limit: a sliding window per
client (its bearer key, else its address), 429 + Retry-After.

Settings (environment): PORT, BLUE_URL, GREEN_URL, UPSTREAM_API_KEY,
MAX_ATTEMPTS [3], BACKOFF_BASE_MS [100], BACKOFF_CAP_MS [2000],
TRY_TIMEOUT_MS [30000], DEADLINE_MS [60000], IDLE_TIMEOUT_MS [30000],
RETRY_AFTER_CAP_MS [10000], RATE_LIMIT [0 off], RATE_WINDOW_MS [60000],
CLIENT_KEYS [comma list; empty: any client], MAX_BODY_BYTES [1048576].

BUG=<name> turns on one defect (BUGS below); two of them are legal
variants that no check may flag (LEGAL)."""
import asyncio
import email.utils
import json
import os
import signal
import sys
import time
import urllib.parse

E = os.environ


def ms(name, default):
    v = E.get(name, "")
    return (int(v) if v else default) / 1000.0


PORT = int(E.get("PORT", "0"))
URLS = {c: urllib.parse.urlsplit(E[c.upper() + "_URL"]) for c in ("blue", "green")}
KEY = E.get("UPSTREAM_API_KEY", "")
MAX_ATTEMPTS = int(E.get("MAX_ATTEMPTS") or 3)
BASE_S, CAP_S = ms("BACKOFF_BASE_MS", 100), ms("BACKOFF_CAP_MS", 2000)
TRY_S, DEADLINE_S = ms("TRY_TIMEOUT_MS", 30000), ms("DEADLINE_MS", 60000)
IDLE_S, RA_CAP_S = ms("IDLE_TIMEOUT_MS", 30000), ms("RETRY_AFTER_CAP_MS", 10000)
RATE_LIMIT, WINDOW_S = int(E.get("RATE_LIMIT") or 0), ms("RATE_WINDOW_MS", 60000)
CLIENT_KEYS = {k for k in E.get("CLIENT_KEYS", "").split(",") if k}
MAX_BODY = int(E.get("MAX_BODY_BYTES") or 1048576)
BUG = E.get("BUG", "")
BUGS = {
    "cache_prefix_key": "JSON answers cached by model and every message but the last: another client's answer comes back",
    "fixed_backoff": "every retry waits the base delay: no exponential growth",
    "retry_after_date_zero": "a Retry-After given as an HTTP date is read as 0: the retry goes out at once",
    "ratelimit_per_connection": "the rate limit is keyed by the client's TCP connection, not the client",
    "idle_from_start": "the stream idle timeout is counted from the request's start, not from the last byte",
    "stream_as_json": "stream: true is dropped upstream: a streaming client gets one JSON body",
    "half_written_error": "relay-made errors promise their whole body and the connection closes half-way",
    "timeout_same_colour": "a try timeout retries the same colour (other failures switch)",
    "refused_is_final": "a refused connection is answered 502 at once, no retry on the other colour",
    "inband_error_plain": "a broken stream ends with 'data: upstream stream failed', not a JSON error event",
    "ratelimit_retry_after_zero": "the relay's own 429 says Retry-After: 0",
    "pool_after_timeout": "an upstream connection whose try timed out goes back to the pool: the next request reads the late answer",
    "max_tokens_dropped": "max_tokens (and max_completion_tokens) are dropped from the forwarded body",
    "unread_body_on_refusal": "a refused request's body is left unread on a kept-alive connection: the next request there gets 400",
    # Legal variants: a correct relay; nothing may flag them.
    "rechunk_small": "LEGAL: a stream is passed on in 7-byte chunks (events split across chunks)",
    "no_keepalive": "LEGAL: every answer says Connection: close and the connection closes",
}
if BUG and BUG not in BUGS:
    sys.exit(f"relay4.py: unknown BUG {BUG!r}")

ACTIVE = ["blue"]
POOL = {"blue": [], "green": []}
WINDOWS = {}  # rate-limit key -> admission times (sliding window)
CACHE = {}  # cache_prefix_key only
INFLIGHT = [0]  # requests being served (SIGTERM drains them)
RETRYABLE = {408, 429, 500, 502, 503, 504}
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
           405: "Method Not Allowed", 411: "Length Required", 413: "Payload Too Large",
           429: "Too Many Requests", 502: "Bad Gateway", 503: "Service Unavailable",
           504: "Gateway Timeout"}


class Gone(Exception):
    """The client closed its connection."""


class Failed(Exception):
    """An attempt failed before an answer: kind is connect, timeout or reset."""

    def __init__(self, kind):
        super().__init__(kind)
        self.kind = kind


def other(c):
    return "green" if c == "blue" else "blue"


# ---- the client side -------------------------------------------------------

class Client:
    def __init__(self, reader, writer):
        self.r, self.w = reader, writer
        peer = writer.get_extra_info("peername") or ("?", 0)
        self.addr, self.conn = peer[0], f"{peer[0]}:{peer[1]}"
        self.keep = True
        self.watch = None  # a read that ends when the client leaves

    def head(self, status, headers):
        if BUG == "no_keepalive":
            headers = headers + [("Connection", "close")]
            self.keep = False
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
        lines += [f"{k}: {v}" for k, v in headers]
        self.w.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    async def send(self, status, body, ctype="application/json", extra=()):
        self.head(status, [("Content-Type", ctype), ("Content-Length", str(len(body)))] + list(extra))
        self.w.write(body)
        await self.w.drain()

    async def error(self, status, message, typ="upstream_error", extra=()):
        body = json.dumps({"error": {"message": message, "type": typ, "param": None,
                                     "code": typ}}).encode()
        if BUG == "half_written_error" and status >= 500:
            self.head(status, [("Content-Type", "application/json"),
                               ("Content-Length", str(len(body)))] + list(extra))
            self.w.write(body[: len(body) // 2])
            await self.w.drain()
            self.keep = False
            return
        await self.send(status, body, extra=extra)

    async def chunk(self, data):
        if not data:
            return
        pieces = [data[i:i + 7] for i in range(0, len(data), 7)] if BUG == "rechunk_small" else [data]
        for p in pieces:
            self.w.write(b"%x\r\n%s\r\n" % (len(p), p))
        try:
            await self.w.drain()
        except ConnectionError:
            raise Gone()
        if self.w.is_closing():
            raise Gone()

    async def race(self, aw, timeout):
        """aw's result, Gone when the client leaves first, TimeoutError after timeout."""
        task = asyncio.ensure_future(aw)
        waits = {task} | ({self.watch} if self.watch else set())
        done, _ = await asyncio.wait(waits, timeout=max(0.0, timeout),
                                     return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            return task.result()
        task.cancel()
        try:
            await task
        except BaseException:
            pass
        if self.watch in done:
            raise Gone()
        raise asyncio.TimeoutError()


# ---- the upstream side -----------------------------------------------------

class Conn:
    def __init__(self, colour, reader, writer):
        self.colour, self.r, self.w = colour, reader, writer

    def close(self):
        self.w.close()

    def release(self):
        if len(POOL[self.colour]) < 32 and not self.w.is_closing():
            POOL[self.colour].append(self)
        else:
            self.close()


async def read_head(conn):
    line = await conn.r.readline()
    if not line:
        raise Failed("reset")
    parts = line.decode("latin-1").split(None, 2)
    status = int(parts[1])
    headers = {}
    while True:
        h = await conn.r.readline()
        if not h:
            raise Failed("reset")
        if h in (b"\r\n", b"\n"):
            break
        k, _, v = h.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers


async def open_and_send(colour, body):
    """Sends the request on a pooled connection (a new one when the pooled
    one turns out closed) and reads the status line and headers."""
    u = URLS[colour]
    path = u.path.rstrip("/") + "/chat/completions"
    req = (f"POST {path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\n"
           f"Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
           f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1") + body
    conn = None
    while POOL[colour] and not conn:
        conn = POOL[colour].pop()
        if conn.r.at_eof() or conn.w.is_closing():
            conn.close()  # the server closed it while idle
            conn = None
    if not conn:
        try:
            r, w = await asyncio.open_connection(u.hostname, u.port)
        except OSError:
            raise Failed("connect")
        conn = Conn(colour, r, w)
    # A request that went out is never sent again on another connection
    # behind the policy's back: the upstream may have acted on it.
    try:
        conn.w.write(req)
        await conn.w.drain()
        status, headers = await read_head(conn)
        return conn, status, headers
    except (Failed, ConnectionError, ValueError, IndexError) as e:
        conn.close()
        raise Failed("reset") from e
    except asyncio.CancelledError:
        if BUG == "pool_after_timeout":
            POOL[colour].append(conn)  # its answer is still on the way
        else:
            conn.close()
        raise


async def body_pieces(conn, headers):
    """Yields the body's pieces as they come; raises Failed("reset") when the
    upstream breaks the framing.  The connection goes back to the pool only
    after a whole, framed body."""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            line = await conn.r.readline()
            if not line.endswith(b"\n"):
                raise Failed("reset")
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (t := await conn.r.readline()) not in (b"\r\n", b"\n"):
                    if not t:
                        raise Failed("reset")
                conn.release()
                return
            try:
                data = await conn.r.readexactly(size)
                await conn.r.readexactly(2)
            except asyncio.IncompleteReadError:
                raise Failed("reset")
            yield data
    elif "content-length" in headers:
        left = int(headers["content-length"])
        while left > 0:
            data = await conn.r.read(min(left, 65536))
            if not data:
                raise Failed("reset")
            left -= len(data)
            yield data
        conn.release()
    else:
        while data := await conn.r.read(65536):
            yield data
        conn.close()


async def read_all(conn, headers):
    out = b""
    async for p in body_pieces(conn, headers):
        out += p
    return out


# ---- policy ----------------------------------------------------------------

def retry_after_s(headers):
    """The wait an upstream asked for, in seconds, or None."""
    if "retry-after-ms" in headers:
        try:
            return float(headers["retry-after-ms"]) / 1000.0
        except ValueError:
            pass
    v = headers.get("retry-after")
    if v is None:
        return None
    try:
        return float(v)
    except ValueError:
        if BUG == "retry_after_date_zero":
            return 0.0
        try:
            return max(0.0, email.utils.parsedate_to_datetime(v).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def backoff_s(n):
    if BUG == "fixed_backoff":
        return BASE_S
    return min(CAP_S, BASE_S * 2 ** (n - 1))


def admit(key, now):
    """None when admitted, else the seconds until a slot frees."""
    if RATE_LIMIT <= 0:
        return None
    times = WINDOWS.setdefault(key, [])
    while times and now - times[0] >= WINDOW_S:
        times.pop(0)
    if len(times) >= RATE_LIMIT:
        return WINDOW_S - (now - times[0])
    times.append(now)
    return None


def forward_body(raw):
    if BUG not in ("stream_as_json", "max_tokens_dropped"):
        return raw
    doc = json.loads(raw)
    if BUG == "stream_as_json":
        doc.pop("stream", None)
        doc.pop("stream_options", None)
    else:
        doc.pop("max_tokens", None)
        doc.pop("max_completion_tokens", None)
    return json.dumps(doc).encode()


def scrub(data):
    """The relay's key never reaches a client, even when an upstream quotes it."""
    return data.replace(KEY.encode(), b"sk-***") if KEY else data


def held_back(data):
    """How many bytes at data's end may begin the key (held until the next piece)."""
    if not KEY:
        return 0
    k = KEY.encode()
    for n in range(min(len(k) - 1, len(data)), 0, -1):
        if data.endswith(k[:n]):
            return n
    return 0


def passed_headers(headers):
    out = []
    for k in ("retry-after", "retry-after-ms"):
        if k in headers:
            out.append((k.title() if k == "retry-after" else k, headers[k]))
    return out


async def pipe_stream(client, conn, headers, t0):
    """Passes an upstream 200 stream on as it comes."""
    client.head(200, [("Content-Type", "text/event-stream"),
                      ("Cache-Control", "no-cache"), ("Transfer-Encoding", "chunked")])
    pieces = body_pieces(conn, headers).__aiter__()
    seen = b""  # the stream's tail, for its end: [DONE], or a finish_reason
    finished = False
    hold = b""  # a tail that may be the start of the key, cut across pieces
    try:
        while True:
            limit = t0 + IDLE_S - time.monotonic() if BUG == "idle_from_start" else IDLE_S
            try:
                data = await client.race(pieces.__anext__(), limit)
            except StopAsyncIteration:
                break
            seen = (seen + data)[-4096:]
            finished |= b'"finish_reason":"' in seen or b'"finish_reason": "' in seen
            data = scrub(hold + data)
            n = held_back(data)
            data, hold = (data[:-n], data[-n:]) if n else (data, b"")
            await client.chunk(data)
        await client.chunk(hold)
        hold = b""
        if b"data: [DONE]" not in seen:
            if not finished:
                raise Failed("reset")  # ended cleanly but cut short: say so
            await client.chunk(b"data: [DONE]\n\n")  # finished without [DONE]
    except Gone:
        conn.close()
        raise
    except (Failed, asyncio.TimeoutError, ConnectionError) as e:
        conn.close()
        await client.chunk(hold)  # not the key: it never completed
        why = "upstream stream stalled" if isinstance(e, asyncio.TimeoutError) else "upstream stream broke"
        if BUG == "inband_error_plain":
            event = b"data: upstream stream failed\n\n"
        else:
            event = b"data: " + json.dumps({"error": {"message": why, "type": "upstream_error",
                                                      "param": None, "code": "stream_error"}}).encode() + b"\n\n"
        await client.chunk(event)
    client.w.write(b"0\r\n\r\n")
    await client.w.drain()


async def chat(client, raw, auth):
    t0 = time.monotonic()
    deadline = t0 + DEADLINE_S
    try:
        doc = json.loads(raw)
        if not isinstance(doc, dict) or not isinstance(doc.get("messages"), list):
            raise ValueError("messages")
    except ValueError:
        return await client.error(400, "The body must be a JSON chat request with messages.",
                                  "invalid_request_error")
    stream = doc.get("stream") is True
    cache_key = None
    if BUG == "cache_prefix_key" and not stream:
        cache_key = json.dumps([doc.get("model"), doc["messages"][:-1]])
        hit = CACHE.get(cache_key)
        if hit and time.monotonic() - hit[0] < 30:
            return await client.send(200, hit[1])
    body = forward_body(raw)
    last = None  # (status, headers, body) of the last upstream answer
    failure = None
    colour = ACTIVE[0]
    for n in range(1, MAX_ATTEMPTS + 1):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        wait = None
        t_try = time.monotonic()
        try:
            conn, status, headers = await client.race(open_and_send(colour, body), min(TRY_S, left))
            if status == 200 and (stream and BUG != "stream_as_json"):
                return await pipe_stream(client, conn, headers, t0)
            # Nothing went to the client yet: the whole answer within the try.
            data = await client.race(read_all(conn, headers),
                                     min(t_try + TRY_S, deadline) - time.monotonic())
            data = scrub(data)
            if status == 200:
                json.loads(data)  # a cut or broken 200 is a failure, not an answer
            if status == 200 or status not in RETRYABLE:
                if status == 200 and cache_key:
                    CACHE[cache_key] = (time.monotonic(), data)
                return await client.send(status, data, "application/json", passed_headers(headers))
            last = (status, headers, data)
            wait = retry_after_s(headers)
            failure = "status"
        except ValueError:
            failure = "reset"
        except Failed as e:
            failure = e.kind
            if failure == "connect" and BUG == "refused_is_final":
                return await client.error(502, f"{colour} refused the connection")
        except asyncio.TimeoutError:
            failure = "timeout"
        if not (failure == "timeout" and BUG == "timeout_same_colour"):
            if ACTIVE[0] == colour:
                ACTIVE[0] = other(colour)  # kept: no fail-back
            colour = other(colour)
        if n == MAX_ATTEMPTS:
            break
        if wait is not None and (wait > RA_CAP_S or time.monotonic() + wait >= deadline):
            wait = 0.0  # this colour asks too long: the other one at once
        elif wait is None:
            wait = backoff_s(n)
        if time.monotonic() + wait >= deadline:
            break
        await client.race(asyncio.sleep(wait), wait + 1.0)
    if last:
        status, headers, data = last
        return await client.send(status, data, "application/json", passed_headers(headers))
    if time.monotonic() >= deadline or failure == "timeout":
        return await client.error(504, "The upstreams did not answer before the deadline.")
    return await client.error(502, "No upstream answered.")


# ---- the server ------------------------------------------------------------

async def one_request(client):
    """Serves one request of a connection; False when the connection ends."""
    line = await client.r.readline()
    if not line:
        return False
    try:
        method, target, _version = line.decode("latin-1").split()
    except ValueError:
        await client.error(400, "Malformed request line.", "invalid_request_error")
        return False
    headers = {}
    while True:
        h = await client.r.readline()
        if not h:
            return False
        if h in (b"\r\n", b"\n"):
            break
        k, _, v = h.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    client.keep = headers.get("connection", "").lower() != "close"
    path = target.split("?")[0]
    if method == "GET" and path == "/healthz":
        await client.send(200, json.dumps({"status": "ok", "active": ACTIVE[0]}).encode())
        return client.keep
    if path != "/ai/chat":
        await client.error(404, f"No route {path}.", "invalid_request_error")
        client.keep = False
        return False
    if method != "POST":
        await client.error(405, "Use POST.", "invalid_request_error")
        client.keep = False
        return False
    if headers.get("transfer-encoding"):
        await client.error(411, "Send a Content-Length.", "invalid_request_error")
        return False
    length = int(headers.get("content-length") or 0)
    if length > MAX_BODY:
        await client.error(413, f"The body is over {MAX_BODY} bytes.", "invalid_request_error")
        return False
    auth = headers.get("authorization", "")
    bearer = auth[7:] if auth.lower().startswith("bearer ") else ""
    if BUG == "unread_body_on_refusal" and RATE_LIMIT > 0:
        wait = admit(bearer or client.addr, time.monotonic())
        if wait is not None:
            await refuse(client, wait)
            return client.keep
    if headers.get("expect", "").lower() == "100-continue":
        client.w.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    raw = await client.r.readexactly(length)
    if CLIENT_KEYS and bearer not in CLIENT_KEYS:
        await client.error(401, "Unknown client key.", "invalid_request_error")
        return client.keep
    if BUG != "unread_body_on_refusal":
        key = client.conn if BUG == "ratelimit_per_connection" else (bearer or client.addr)
        wait = admit(key, time.monotonic())
        if wait is not None:
            await refuse(client, wait)
            return client.keep
    # From here the client's leaving is watched: a read that ends at its EOF.
    client.watch = asyncio.ensure_future(client.r.read(1))
    INFLIGHT[0] += 1
    try:
        await chat(client, raw, auth)
    except Gone:
        client.keep = False
    finally:
        INFLIGHT[0] -= 1
        watch, client.watch = client.watch, None
        if not watch.done():
            watch.cancel()  # and wait: the next readline must not meet it
            await asyncio.gather(watch, return_exceptions=True)
        elif watch.exception() or watch.result():
            client.keep = False  # a pipelined byte was eaten: end cleanly
    return client.keep


async def refuse(client, wait):
    ra = "0" if BUG == "ratelimit_retry_after_zero" else str(max(1, int(wait + 0.999)))
    await client.error(429, "Rate limit reached for this client.", "rate_limit_exceeded",
                       [("Retry-After", ra)])


async def serve(reader, writer):
    client = Client(reader, writer)
    try:
        while await one_request(client):
            pass
    except (ConnectionError, asyncio.IncompleteReadError, Gone):
        pass
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", PORT)
    port = server.sockets[0].getsockname()[1]
    print(f"relay4 listening on http://127.0.0.1:{port}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()  # SIGTERM: stop accepting, drain (5 s at most), exit 0
    server.close()
    for _ in range(500):
        if not INFLIGHT[0]:
            break
        await asyncio.sleep(0.01)
    sys.stdout.flush()
    os._exit(0)  # not asyncio.run's teardown: it reports every idle keep-alive it cancels


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
