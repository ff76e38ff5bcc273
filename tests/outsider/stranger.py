#!/usr/bin/env python3
"""A relay whose port a stranger took first: another session's HTTP server
listens on the port and answers; this "relay" then fails to bind and exits 1.
With a third argument "silent" the stranger listens and never answers, and
the relay exits at once, before the runner's ready probe could find anyone."""
import os, socket, subprocess, sys, time
port, pidfile = int(sys.argv[1]), sys.argv[2]
silent = len(sys.argv) > 3 and sys.argv[3] == "silent"
folder = os.path.dirname(os.path.abspath(pidfile))
# The test's folder on the stranger's command line (--directory, or an
# argument the silent one ignores), so the test can see none is left behind.
listen = ("import socket, sys, time\n"
          "s = socket.socket()\n"
          "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
          "s.bind(('127.0.0.1', int(sys.argv[1])))\n"
          "s.listen(16)\n"
          "time.sleep(120)\n")
argv = ([sys.executable, "-c", listen, str(port), folder] if silent else
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
         "--directory", folder])
p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True)
open(pidfile, "a").write("%d\n" % p.pid)  # one line per stranger: a re-run adds one
for _ in range(500):
    try:
        socket.create_connection(("127.0.0.1", port), 0.1).close()
        break
    except OSError:
        time.sleep(0.01)
if not silent:
    time.sleep(0.2)  # the runner's probe finds the stranger and starts the traffic
sys.exit("relay: bind 127.0.0.1:%d: Address already in use" % port)
