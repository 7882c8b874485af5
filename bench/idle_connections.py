#!/usr/bin/env python3
"""Opens COUNT keep-alive connections to HOST:PORT, sends one GET /healthz on each, reads the
answers, then holds them all open for HOLD seconds and prints how many are still open.

    python3 bench/idle_connections.py 127.0.0.1 8080 10000 5
"""
import resource
import socket
import sys
import time

host, port, count, hold = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 100), hard))
request = f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
sockets = []
for _ in range(count):
    s = socket.create_connection((host, port))
    s.sendall(request)
    sockets.append(s)
answered = 0
for s in sockets:
    s.settimeout(10)
    if s.recv(4096).startswith(b"HTTP/1.1 200"):
        answered += 1
time.sleep(hold)
open_count = 0
for s in sockets:
    s.setblocking(False)
    try:
        open_count += 0 if s.recv(1) == b"" else 1
    except BlockingIOError:
        open_count += 1  # nothing to read and not closed: still open
print(answered, open_count, flush=True)
time.sleep(hold)
