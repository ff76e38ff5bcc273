// Outsider audit round 3 (docs/outsider-audit.md): relays/examples/express
// made correct in the ways the scenarios ask of it, so that one defect at a
// time (BUG=name) can be put in.  A different stack than relay.py: Node's
// http server through Express, the upstream through fetch (undici), streams
// piped as web streams.  Unlike the example it forwards the body as it came
// (but "user"), takes its retry settings from the environment, passes the
// last upstream answer back (status, body, Retry-After) after its last
// attempt, writes SSE keep-alive comments while a stream's first byte is
// late, caps requests in flight (503 + Retry-After) and refuses a body over
// its limit with 413, all in OpenAI JSON.  Run it with NODE_PATH pointing at
// relays/examples/express/node_modules (tests/outsider/express3.json).
const express = require("express");

const BUGS = {
  keepalive_unterminated: "the SSE keep-alive comment written without its newline: the next event is glued onto the comment line",
  keepalive_as_data: "keep-alive sent as an empty data event (data: \\n\\n): a client's JSON.parse of it fails",
  merge_events: "stream re-chunked line by line, the blank line between events dropped: events run together",
  crlf: "SSE line endings rewritten to CRLF (allowed by the SSE spec: must NOT be caught)",
  hop_by_hop: "every upstream header copied onto the answer (Connection, Keep-Alive, Transfer-Encoding, Content-Length)",
  stale_content_length: "the answer's id rewritten, the upstream's Content-Length kept: the client reads a cut body",
  fake_gzip: "Content-Encoding: gzip on a plain body",
  drop_retry_after: "the upstream's 429/503 passed on after the last attempt without its Retry-After",
  cap_bare_503: "the concurrency cap answers 503 text/plain without Retry-After",
  model_rewritten: "the answer's model replaced with the model the client asked for",
  drop_stream_options: "n and stream_options dropped from the upstream body",
  timeout_from_start: "one timeout for all attempts, counted from the request's start, not per attempt",
  retry_partial: "a stream that fails after bytes went out is retried from the start on the other colour and appended",
  truncate_body: "a body over the limit cut at the limit and forwarded (no 413)",
  client_auth_upstream: "the client's Authorization forwarded upstream instead of the relay's key",
  retry_4xx_final_502: "after the last attempt a relay-made 502 instead of the upstream's answer",
};
const BUG = process.env.BUG || "";
if (BUG && !BUGS[BUG]) { console.error(`unknown BUG=${BUG}`); process.exit(2); }

const urls = { blue: process.env.BLUE_URL, green: process.env.GREEN_URL };
const key = process.env.UPSTREAM_API_KEY || "";
const port = Number(process.env.PORT || 3000);
const num = (v, d) => (v === undefined || v === "" ? d : Number(v));
const MAX_ATTEMPTS = num(process.env.MAX_ATTEMPTS, 3);
const BACKOFF_MS = num(process.env.BACKOFF_BASE_MS, 100);
const TIMEOUT_MS = num(process.env.TRY_TIMEOUT_MS, 30000);
const MAX_BODY = num(process.env.MAX_BODY_BYTES, 1 << 20);
const MAX_CLIENTS = num(process.env.MAX_CLIENTS, 0); // 0: no cap
const KEEPALIVE_MS = 150;
const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);
let active = "blue";
let inFlight = 0;

const app = express();
const fail = (res, status, type, message, extra = {}) => {
  res.set(extra);
  return res.status(status).json({ error: { message, type, code: null, param: null } });
};

app.get("/health", (req, res) =>
  res.json({ status: "healthy", active_env: active, timestamp: new Date().toISOString() }));

app.post("/api/chat", (req, res, next) => {
  if (MAX_CLIENTS > 0 && inFlight >= MAX_CLIENTS) {
    if (BUG === "cap_bare_503") return res.status(503).type("text/plain").send("busy\n");
    return fail(res, 503, "overloaded", "too many requests in flight", { "Retry-After": "1" });
  }
  inFlight++;
  res.on("close", () => inFlight--);
  if (BUG === "truncate_body") {
    const chunks = []; let got = 0;
    req.on("data", (c) => { if (got < MAX_BODY) chunks.push(c.subarray(0, MAX_BODY - got)); got += c.length; });
    req.on("end", () => { req.rawBody = Buffer.concat(chunks); next(); });
    return;
  }
  express.raw({ type: () => true, limit: MAX_BODY })(req, res, (err) => {
    if (err) return fail(res, err.status || 400, "invalid_request_error", err.message);
    next();
  });
}, async (req, res) => {
  let parsed;
  try { parsed = JSON.parse((req.rawBody || req.body).toString("utf8")); } catch { parsed = null; }
  if (!parsed || typeof parsed !== "object")
    return fail(res, 400, "invalid_request_error", "body is not a JSON object");
  const { user, ...fwd } = parsed;
  if (BUG === "drop_stream_options") { delete fwd.n; delete fwd.stream_options; }
  const body = BUG === "truncate_body" ? req.rawBody : JSON.stringify(fwd);
  const auth = BUG === "client_auth_upstream" && req.get("authorization") ? req.get("authorization") : `Bearer ${key}`;
  const gone = new AbortController();
  res.on("close", () => { if (!res.writableFinished) gone.abort(); });
  const startSignal = AbortSignal.timeout(TIMEOUT_MS);
  let last = null, keepalive = null, wrote = false, lastWrite = Date.now();
  const stopKeepalive = () => { if (keepalive) clearInterval(keepalive); keepalive = null; };
  if (fwd.stream) { // a comment after KEEPALIVE_MS of silence, before or inside the stream
    keepalive = setInterval(() => {
      if (Date.now() - lastWrite < KEEPALIVE_MS) return;
      if (!res.headersSent) { res.status(200).type("text/event-stream"); res.flushHeaders(); }
      wrote = true; lastWrite = Date.now();
      if (BUG === "keepalive_unterminated") res.write(": keep-alive");
      else if (BUG === "keepalive_as_data") res.write("data: \n\n");
      else res.write(": keep-alive\n\n");
    }, KEEPALIVE_MS / 3);
  }
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const env = active;
    let streamed = false;
    try {
      const signal = AbortSignal.any([gone.signal,
        BUG === "timeout_from_start" ? startSignal : AbortSignal.timeout(TIMEOUT_MS)]);
      const up = await fetch(`${urls[env]}/chat/completions`, {
        method: "POST", body, signal,
        headers: { "Content-Type": "application/json", Authorization: auth },
      });
      if (!up.ok) {
        const text = await up.text();
        last = { status: up.status, text, ctype: up.headers.get("content-type"),
                 retryAfter: up.headers.get("retry-after") };
        if (!RETRYABLE.has(up.status)) { stopKeepalive(); return send(res, last, wrote); }
        throw new Error(`upstream ${up.status}`);
      }
      const ctype = up.headers.get("content-type") || "application/json";
      if (!wrote) {
        if (BUG === "hop_by_hop") up.headers.forEach((v, k) => res.setHeader(k, v));
        res.status(200).type(ctype);
        if (BUG === "fake_gzip") res.setHeader("Content-Encoding", "gzip");
      }
      if (!ctype.includes("event-stream")) {
        stopKeepalive();
        let text = await up.text();
        if (BUG === "model_rewritten" || BUG === "stale_content_length") {
          const j = JSON.parse(text);
          if (BUG === "model_rewritten") j.model = fwd.model;
          else { j.id = `relay-${j.id}`; res.setHeader("Content-Length", up.headers.get("content-length") || String(Buffer.byteLength(text))); }
          text = JSON.stringify(j);
        }
        return res.end(text);
      }
      let tail = "";
      for await (const chunk of up.body) {
        streamed = true; wrote = true; lastWrite = Date.now();
        let s = Buffer.from(chunk).toString("utf8");
        if (BUG === "merge_events") {
          s = tail + s;
          const cut = s.lastIndexOf("\n");
          tail = s.slice(cut + 1);
          s = s.slice(0, cut + 1).split("\n").filter((l) => l !== "").map((l) => l + "\n").join("");
          if (s.includes("[DONE]")) s += "\n";
        } else if (BUG === "crlf") {
          s = s.replace(/\r?\n/g, "\r\n");
        } else if (BUG === "model_rewritten") {
          s = s.replace(/"model":"[^"]*"/g, `"model":${JSON.stringify(fwd.model)}`);
        }
        res.write(s);
      }
      stopKeepalive();
      return res.end();
    } catch (err) {
      if (gone.signal.aborted) { stopKeepalive(); return res.end(); }
      if (streamed && BUG !== "retry_partial") {
        stopKeepalive();
        res.write(`data: ${JSON.stringify({ error: { message: "upstream stream failed", type: "upstream_error" } })}\n\n`);
        return res.end();
      }
      active = env === "blue" ? "green" : "blue";
      if (attempt === MAX_ATTEMPTS) break;
      await new Promise((r) => setTimeout(r, BACKOFF_MS));
    }
  }
  stopKeepalive();
  if (last && BUG !== "retry_4xx_final_502") return send(res, last, wrote);
  if (wrote) {
    res.write(`data: ${JSON.stringify({ error: { message: "no upstream answered", type: "upstream_error" } })}\n\n`);
    return res.end();
  }
  return fail(res, 502, "upstream_error", "no upstream answered");
});

// The upstream's own answer, passed on (status, body, Retry-After).
function send(res, last, wrote) {
  if (wrote) { // a stream already begun with keep-alives: an in-band error
    res.write(`data: ${JSON.stringify({ error: { message: `upstream ${last.status}`, type: "upstream_error", code: last.status } })}\n\n`);
    return res.end();
  }
  if (last.retryAfter && BUG !== "drop_retry_after") res.set("Retry-After", last.retryAfter);
  res.status(last.status).type(last.ctype || "application/json");
  return res.end(last.text);
}

const server = app.listen(port, "127.0.0.1", () => console.log(`express relay (round 3) on ${port}`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
