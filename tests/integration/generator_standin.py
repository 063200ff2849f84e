#!/usr/bin/env python3
"""A minimal stand-in for the Embeddings Generator's three routes
(/is_ready, /task_status, /cancel_embeddings, as tests/emulators/generator/
README.md describes them), for the tests of the
original Auto-Updater's routes and of the move from its container:

  GET  /is_ready           {"status": "ready"}, or 503 {"status": "not ready"}
                           while the --down-file exists, or 200 with the
                           --body-file's bytes as they are while that exists
  POST /task_status        {"message": "", "status": "no_task", "is_running": false}
  POST /cancel_embeddings  {"message": "Nothing to cancel"}

Every POST body is appended to --record (one JSON line: route and body).

    generator_standin.py --port 0 --port-file F --down-file F [--body-file F]
                         [--record F]
"""
import argparse
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, default=0)
ap.add_argument("--port-file", required=True)
ap.add_argument("--down-file", required=True)
ap.add_argument("--body-file")
ap.add_argument("--record")
args = ap.parse_args()
record_lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path != "/is_ready":
            return self.send(404, {"detail": "Not Found"})
        if os.path.exists(args.down_file):
            return self.send(503, {"status": "not ready"})
        if args.body_file and os.path.exists(args.body_file):
            with open(args.body_file, "rb") as f:
                data = f.read()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            return self.wfile.write(data)
        self.send(200, {"status": "ready"})

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        answers = {
            "/task_status": {"message": "", "status": "no_task", "is_running": False},
            "/cancel_embeddings": {"message": "Nothing to cancel"},
        }
        if self.path not in answers:
            return self.send(404, {"detail": "Not Found"})
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            return self.send(500, {"message": "the body is not JSON"})
        if args.record:
            with record_lock, open(args.record, "a") as f:
                f.write(json.dumps({"route": self.path, "body": body}) + "\n")
        self.send(200, answers[self.path])


server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
with open(args.port_file, "w") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
