#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# listener.py PORT LOG - stands for a server that vdisk must not reach: on
# 127.0.0.1:PORT, accepts each connection, appends a line for it to LOG and
# closes it. Returns once the port listens, printing the pid of the process
# that serves it (for at most 300 s), so that a test need not connect to
# find out whether it is ready.
import os
import signal
import socket
import sys

port, log = int(sys.argv[1]), sys.argv[2]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(4)
open(log, "w").close()
pid = os.fork()
if pid:
    print(pid)
    sys.exit(0)
# The child: no test outlives its servers, even one killed without its trap.
devnull = os.open(os.devnull, os.O_RDWR)
for fd in (0, 1):
    os.dup2(devnull, fd)
signal.alarm(300)
while True:
    c, peer = s.accept()
    with open(log, "a") as f:
        f.write("connection from %s:%d\n" % peer)
    c.close()
