"""A small blue-green relay as users write it with FastAPI and httpx, for
cutover to judge (docs/profiles.md).  It takes the usual shortcuts on purpose:
a fresh upstream body (the client's "user" is dropped), no X-Request-ID
upstream, no X-Served-By back, every error retried (401 included) after a
fixed 100 ms, and a failed attempt flips the active colour.  Configuration
comes from the environment.  Run: uvicorn app:app --port PORT"""
import asyncio
import os
from datetime import datetime, timezone

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

URLS = {"blue": os.environ["BLUE_URL"], "green": os.environ["GREEN_URL"]}
KEY = os.environ.get("UPSTREAM_API_KEY", "")
MAX_ATTEMPTS, BACKOFF_S, TIMEOUT_S = 3, 0.1, 30.0
state = {"active": "blue"}
client = httpx.AsyncClient(timeout=TIMEOUT_S)
app = FastAPI()


@app.get("/health")
async def health():
    return {"status": "healthy", "active_env": state["active"],
            "timestamp": datetime.now(timezone.utc).isoformat(),
            "environments": {"blue": True, "green": True}}


@app.post("/api/chat")
async def chat(request: Request):
    b = await request.json()
    body = {k: b.get(k) for k in ("model", "messages", "temperature", "max_tokens", "stream")}
    headers = {"Authorization": f"Bearer {KEY}"}
    error = "no attempt"
    for attempt in range(1, MAX_ATTEMPTS + 1):
        env = state["active"]
        try:
            req = client.build_request("POST", f"{URLS[env]}/chat/completions",
                                       json=body, headers=headers)
            up = await client.send(req, stream=True)
            if up.status_code != 200:
                await up.aclose()
                raise RuntimeError(f"upstream {up.status_code}")
            if body.get("stream"):
                return StreamingResponse(up.aiter_raw(), media_type="text/event-stream",
                                         background=up.aclose)
            content = await up.aread()
            await up.aclose()
            return Response(content, media_type="application/json")
        except Exception as e:  # the shortcut: every error is retried
            error = str(e)
            state["active"] = "green" if env == "blue" else "blue"
            if attempt < MAX_ATTEMPTS:
                await asyncio.sleep(BACKOFF_S)
    return JSONResponse({"error": {"message": error, "type": "upstream_error"}}, status_code=502)
