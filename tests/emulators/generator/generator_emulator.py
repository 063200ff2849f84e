#!/usr/bin/env python3
"""An Embeddings Generator emulator: the three routes the Auto-Updater calls.

Follows the Generator's routes as README.md here lists them: GET /is_ready,
POST /task_status and POST /cancel_embeddings, every POST with the body
{"state": {"project_id": N}}; answers are JSON, errors 500 {"message"}.
README.md gives the control routes and the choices made.

    generator_emulator.py --port 0 --port-file F [--running ID,...]
        [--supervisely URL --token T] [--verbose]
"""
import argparse
import json
import os
import re
import signal
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATUSES = ("no_task", "running", "completed", "failed", "cancelled")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    args = None
    lock = threading.Lock()
    tasks = {}       # project id -> status (one of STATUSES)
    ready = True
    faults = []      # {"match": REGEX, "status": N, "remaining": N}
    log = []         # every request: {"method", "path", "body"}

    def log_message(self, fmt, *a):
        if self.args.verbose:
            sys.stderr.write("generator-emulator: " + (fmt % a) + "\n")

    def send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def record(self, raw):
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        with self.lock:
            self.log.append({"method": self.command, "path": self.path, "body": body})

    def take_fault(self, route):
        with self.lock:
            for f in self.faults:
                if f.get("remaining", 0) > 0 and re.search(f.get("match", "."), route):
                    f["remaining"] -= 1
                    return f
        return None

    def do_GET(self):
        if self.path == "/__emulator/state":
            with self.lock:
                return self.send(200, {"log": list(self.log), "ready": self.ready,
                                       "tasks": {str(k): v for k, v in self.tasks.items()}})
        self.record(b"")
        if self.path != "/is_ready":
            return self.send(404, {"message": "Not Found"})
        fault = self.take_fault("is_ready")
        if fault:
            return self.send(fault["status"], {"message": "injected fault"})
        if not self.ready:
            return self.send(503, {"status": "not ready"})
        self.send(200, {"status": "ready"})

    def do_POST(self):
        raw = self.body()
        if self.path.startswith("/__emulator/"):
            return self.control(raw)
        self.record(raw)
        route = self.path.lstrip("/")
        if route not in ("task_status", "cancel_embeddings", "is_ready"):
            return self.send(404, {"message": "Not Found"})
        if route == "is_ready":   # every Supervisely app serves it for POST too
            return self.send(200, {"status": "ready"})
        fault = self.take_fault(route)
        if fault:
            return self.send(fault["status"], {"message": "injected fault"})
        try:
            project = json.loads(raw)["state"]["project_id"]
            if not isinstance(project, int):
                raise TypeError("project_id must be an integer")
        except (ValueError, KeyError, TypeError) as e:
            return self.send(500, {"message": f"Error: {e!r}"})
        if route == "task_status":
            with self.lock:
                status = self.tasks.get(project, "no_task")
            return self.send(200, {"message": f"Task status for project {project}: {status}",
                                   "status": status, "is_running": status == "running"})
        with self.lock:
            was = self.tasks.get(project, "no_task")
            if was == "running":
                self.tasks[project] = "cancelled"
        if self.args.supervisely:
            self.clear_project(project)
        if was == "running":
            return self.send(200, {"message": f"Embeddings creation for project {project} cancelled"})
        self.send(200, {"message": f"No embeddings creation task running for project {project}"})

    def clear_project(self, project):
        """The Generator clears the project's in-progress flag and stamp
        itself when it cancels (section 2)."""
        def call(method, body):
            req = urllib.request.Request(
                f"{self.args.supervisely}/public/api/v3/{method}", json.dumps(body).encode(),
                {"Content-Type": "application/json", "x-api-key": self.args.token})
            with urllib.request.urlopen(req, timeout=10) as r:
                return json.loads(r.read())
        call("projects.embeddings-in-progress.update", {"id": project, "embeddingsInProgress": False})
        custom = call("projects.info", {"id": project}).get("customData") or {}
        if "embeddings_update_started_at" in custom:
            del custom["embeddings_update_started_at"]
            call("projects.editInfo", {"id": project, "customData": custom, "silent": True})

    def control(self, raw):
        spec = json.loads(raw or b"{}")
        with self.lock:
            if self.path == "/__emulator/tasks":
                # {"42": "running", "43": "completed", ...}
                for pid, status in spec.items():
                    if status not in STATUSES:
                        return self.send(400, {"message": f"status must be one of {STATUSES}"})
                    self.tasks[int(pid)] = status
            elif self.path == "/__emulator/ready":
                Handler.ready = bool(spec.get("ready", True))
            elif self.path == "/__emulator/faults":
                if spec.get("clear"):
                    self.faults.clear()
                for f in spec.get("add", []):
                    f.setdefault("remaining", 1)
                    self.faults.append(f)
            elif self.path == "/__emulator/log":
                self.log.clear()
            else:
                return self.send(404, {"message": "unknown control route"})
        self.send(200, {})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--running", default="", help="projects with a running task (comma-separated)")
    ap.add_argument("--supervisely", help="Supervisely emulator base URL: cancel clears the flag there")
    ap.add_argument("--token", default="", help="its API token")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    Handler.args = args
    Handler.tasks = {int(p): "running" for p in args.running.split(",") if p.strip()}
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(server.server_address[1]))
        os.rename(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
