#!/usr/bin/env python3
"""A relay whose port a stranger took first: another session's HTTP server
listens on the port and answers; this "relay" then fails to bind and exits 1."""
import os, socket, subprocess, sys, time
port, pidfile = int(sys.argv[1]), sys.argv[2]
p = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
open(pidfile, "w").write(str(p.pid))
for _ in range(500):
    try:
        socket.create_connection(("127.0.0.1", port), 0.1).close()
        break
    except OSError:
        time.sleep(0.01)
time.sleep(0.2)  # the runner's probe finds the stranger and starts the traffic
sys.exit("relay: bind 127.0.0.1:%d: Address already in use" % port)
