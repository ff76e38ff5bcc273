#!/usr/bin/env python3
"""A relay whose port a stranger took first: another session's HTTP server
listens on the port and answers; this "relay" then fails to bind and exits 1."""
import os, socket, subprocess, sys, time
port, pidfile = int(sys.argv[1]), sys.argv[2]
# --directory names the test's folder on the stranger's command line, so the
# test can see that none is left behind.
p = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                      "--directory", os.path.dirname(os.path.abspath(pidfile))],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
open(pidfile, "a").write("%d\n" % p.pid)  # one line per stranger: a re-run adds one
for _ in range(500):
    try:
        socket.create_connection(("127.0.0.1", port), 0.1).close()
        break
    except OSError:
        time.sleep(0.01)
time.sleep(0.2)  # the runner's probe finds the stranger and starts the traffic
sys.exit("relay: bind 127.0.0.1:%d: Address already in use" % port)
