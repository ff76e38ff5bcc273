#!/usr/bin/env python3
"""A "relay" that answers every chat request with 200 and a fixed, well-formed
OpenAI answer of its own, without calling any upstream (a stream gets the same
text as SSE chunks and [DONE]).  For the PASS audit (docs/outsider-audit.md):
it looks healthy to a client that reads only statuses, so no scenario may pass
against it.  GET /health answers 200.  Environment: PORT."""
import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TEXT = "The relay answered this itself."


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, status, ctype, body):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.send(200, "application/json", b'{"status":"ok"}')

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            req = json.loads(raw)
            if not isinstance(req, dict):
                req = {}
        except ValueError:
            req = {}
        model = req.get("model") or "gpt-4o-mini"
        usage = {"prompt_tokens": 9, "completion_tokens": 6, "total_tokens": 15}
        if req.get("stream"):
            out = []
            for i, w in enumerate(TEXT.split(" ")):
                d = {"content": (" " if i else "") + w}
                out.append({"id": "chatcmpl-fixed", "object": "chat.completion.chunk",
                            "created": 0, "model": model,
                            "choices": [{"index": 0, "delta": d, "finish_reason": None}]})
            out.append({"id": "chatcmpl-fixed", "object": "chat.completion.chunk", "created": 0,
                        "model": model, "usage": usage,
                        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            body = "".join("data: %s\n\n" % json.dumps(c) for c in out) + "data: [DONE]\n\n"
            self.send(200, "text/event-stream", body.encode())
            return
        body = {"id": "chatcmpl-fixed", "object": "chat.completion", "created": 0, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": TEXT},
                             "finish_reason": "stop"}],
                "usage": usage}
        self.send(200, "application/json", json.dumps(body).encode())


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H)
    srv.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    srv.serve_forever()


if __name__ == "__main__":
    main()
