#!/usr/bin/env python3
"""A stand-in for the service manager's end of sd_notify: binds an AF_UNIX
datagram socket, then appends every message it receives, one state per
line, to a file, until it is killed."""
import os
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
open(path + ".ready", "w").close()
while True:
    data = s.recv(4096).decode("utf-8", "replace")
    with open(out, "a") as f:
        for state in data.split("\n"):
            if state:
                f.write(state + "\n")
        f.flush()
        os.fsync(f.fileno())
