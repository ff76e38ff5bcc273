// A small blue-green relay as users write it with Express, for cutover to
// judge (docs/profiles.md).  It takes the usual shortcuts on purpose: it
// builds a fresh upstream body (the client's "user" is dropped), sends no
// X-Request-ID upstream and no X-Served-By back, retries every error
// (401 included) after a fixed 100 ms, and a failed attempt flips the
// active colour.  Configuration comes from the environment.
const express = require("express");

const urls = { blue: process.env.BLUE_URL, green: process.env.GREEN_URL };
const key = process.env.UPSTREAM_API_KEY || "";
const port = Number(process.env.PORT || 3000);
const MAX_ATTEMPTS = 3, BACKOFF_MS = 100, TIMEOUT_MS = 30000;
let active = "blue";

const app = express();
app.use(express.json({ limit: "1mb" }));

app.get("/health", (req, res) =>
  res.json({ status: "healthy", active_env: active, timestamp: new Date().toISOString(),
             environments: { blue: true, green: true } }));

app.post("/api/chat", async (req, res) => {
  const { model, messages, temperature, max_tokens, stream } = req.body || {};
  const body = JSON.stringify({ model, messages, temperature, max_tokens, stream });
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const env = active;
    try {
      const up = await fetch(`${urls[env]}/chat/completions`, {
        method: "POST", body, signal: AbortSignal.timeout(TIMEOUT_MS),
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${key}` },
      });
      if (!up.ok) throw new Error(`upstream ${up.status}`);
      res.status(200).type(up.headers.get("content-type") || "application/json");
      for await (const chunk of up.body) res.write(chunk);
      return res.end();
    } catch (err) {
      if (res.headersSent) return res.end(); // mid-stream: nothing left to do
      active = env === "blue" ? "green" : "blue";
      if (attempt === MAX_ATTEMPTS)
        return res.status(502).json({ error: { message: String(err.message || err), type: "upstream_error" } });
      await new Promise((r) => setTimeout(r, BACKOFF_MS));
    }
  }
});

const server = app.listen(port, "127.0.0.1", () => console.log(`express relay on ${port}`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
