"""The HTTP plumbing the outsider relays share (relay.py, relay2.py), so
that each file is about what its relay decides: a threaded server that
drains on SIGTERM, a handler base that keeps quiet and counts the requests
in flight, and the writes every relay makes (a whole answer; a chunked
stream's head, chunks and end).  Python stdlib only, like the relays."""
import os
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

INFLIGHT = [0]  # requests being answered (Handler.counted)
_lock = threading.Lock()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def counted(self, handle):
        """Runs handle() counted in INFLIGHT, so that a SIGTERM waits for it."""
        with _lock:
            INFLIGHT[0] += 1
        try:
            return handle()
        finally:
            with _lock:
                INFLIGHT[0] -= 1

    def reply(self, status, body, ctype="application/json", extra=None, length=None):
        """A whole answer; length, when given, is the Content-Length sent
        (a relay's bug may get it wrong), else the body's."""
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def start_stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end_stream_chunks(self):
        """The last chunk; the connection closes after the answer."""
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        self.close_connection = True


def serve(handler, banner, threads=()):
    """Serves handler on 127.0.0.1:$PORT with each of threads (functions)
    running beside it, and prints banner (the runner waits for it; SIGTERM
    is handled by then).  On SIGTERM: stops accepting, lets the requests in
    flight end (up to 5 s) and exits 0.  Idle keep-alive connections are not
    waited for."""
    srv = Server(("127.0.0.1", int(os.environ["PORT"])), handler)
    for fn in threads:
        threading.Thread(target=fn, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown).start())
    print(banner, flush=True)
    srv.serve_forever()
    srv.socket.close()
    end = time.monotonic() + 5
    while INFLIGHT[0] and time.monotonic() < end:
        time.sleep(0.01)
    os._exit(0)
