#!/usr/bin/env python3
"""A CLIP-as-service (jina HTTP gateway) emulator for embsync's tests.

Follows CLIP-as-service's HTTP gateway (README.md here): POST /post with the same body and
response shapes, GET /, /dry_run, /status; 422 for a body that is not JSON;
HTTP 200 with a failing header.status when a blob does not decode as an
image.  Embeddings are deterministic functions of the decoded pixels (Pillow)
or of the text, with the configured dimension, not unit length.

    clip_emulator.py --port 0 --port-file F [--dim 512] [--prefix /net/TOKEN]
                     [--not-ready N] [--batch-cost-ms MS] [--item-cost-ms MS]
                     [--auth TOKEN] [--record FILE] [--task ID --task-token TOKEN]

Several instances on their own ports stand in for several CLIP servers; one
killed (SIGKILL, or the `exit` fault) and started again with --port of the
old one is a server that died and came back.

With --task, it also answers Supervisely's POST /public/api/v3/tasks.info for
that task id (x-api-key must be TOKEN) with the prefix as the app's baseUrl: a
minimal stand-in for the clip plugin's task-id resolution.
"""
import argparse
import base64
import binascii
import datetime
import hashlib
import io
import json
import os
import random
import signal
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image

DOC_KEYS = ["id", "parent_id", "granularity", "adjacency", "blob", "tensor",
            "mime_type", "text", "weight", "uri", "tags", "offset", "location",
            "embedding", "modality", "evaluations", "scores", "chunks", "matches"]


class ExecutorError(Exception):
    pass


def embedding_for(seed_bytes, dim):
    """Deterministic, not unit length (norm around 10, like raw CLIP)."""
    rng = random.Random(hashlib.sha256(seed_bytes).digest())
    return [rng.gauss(0.0, 10.0 / dim ** 0.5) for _ in range(dim)]


def image_embedding(data, dim):
    try:
        img = Image.open(io.BytesIO(data))
        img = img.convert("RGB").resize((8, 8), Image.BILINEAR)
    except Exception as e:  # PIL raises many kinds
        raise ExecutorError(f"UnidentifiedImageError('cannot identify image file "
                            f"<_io.BytesIO object>') {type(e).__name__}")
    # Coarse pixels: a re-encoded copy of the same picture maps the same way.
    pixels = bytes(v // 32 for px in img.getdata() for v in px)
    return embedding_for(b"image:" + pixels, dim)


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.gpu = threading.Lock()     # one replica: inference is serial
        self.probes = 0
        self.faults = []
        self.counts = {"post": 0, "docs": 0, "dry_run": 0}
        self.busy_seconds = 0.0         # holding the replica
        self.service_seconds = 0.0      # at least one /post being served
        self.active = 0
        self.active_since = 0.0
        self.max_active = 0
        self.ready = True               # switched by POST /__emulator/ready
        self.record = open(args.record, "a", buffering=1) if args.record else None
        # Held while an answer is sent and recorded: a fault's exit waits
        # for it, so an answer the client got is always in the record.
        self.answering = threading.Lock()

    def note(self, entry):
        """One line per /post answered (or refused by a fault), for tests
        that count what was embedded where."""
        if self.record:
            with self.lock:
                self.record.write(json.dumps(entry) + "\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes; without TCP_NODELAY the second
    # waits for the client's delayed ACK (40 ms per keep-alive request).
    disable_nagle_algorithm = True
    state = None

    def log_message(self, fmt, *args):
        if self.state.args.verbose:
            sys.stderr.write("clip-emulator: " + (fmt % args) + "\n")

    def send(self, status, body, ctype="application/json"):
        data = json.dumps(body).encode() if ctype == "application/json" else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def route(self):
        path = self.path.split("?", 1)[0]
        prefix = self.state.args.prefix
        if prefix:
            if not path.startswith(prefix):
                return None
            path = path[len(prefix):] or "/"
        return path

    def take_fault(self):
        with self.state.lock:
            for f in self.state.faults:
                if f.get("remaining", 0) > 0:
                    f["remaining"] -= 1
                    return dict(f)
        return None

    def do_GET(self):
        path = self.route()
        if path is None:
            return self.send(404, {"detail": "Not Found"})
        if path.startswith("/__emulator/"):
            return self.control("GET", path)
        if path == "/":
            return self.send(200, {})
        if path == "/dry_run":
            with self.state.lock:
                self.state.counts["dry_run"] += 1
                self.state.probes += 1
                ready = self.state.probes > self.state.args.not_ready and self.state.ready
            if ready:
                return self.send(200, {"code": 0, "description": "", "exception": None})
            return self.send(200, {"code": 1, "description": "ConnectionError('clip_t is starting')",
                                   "exception": {"name": "ConnectionError",
                                                 "args": ["clip_t is starting"],
                                                 "stacks": ["Traceback ..."],
                                                 "executor": ""}})
        if path == "/status":
            return self.send(200, {"jina": {"jina": "3.14.1", "docarray": "0.21.0"},
                                   "envs": {"JINA_LOG_LEVEL": "INFO"}})
        if path == "/post":
            return self.send(405, {"detail": "Method Not Allowed"})
        self.send(404, {"detail": "Not Found"})

    def do_POST(self):
        """Time the service is answering anything, for the benchmarks."""
        with self.state.lock:
            if self.state.active == 0:
                self.state.active_since = time.time()
            self.state.active += 1
            self.state.max_active = max(self.state.max_active, self.state.active)
            self.arrived_with = self.state.active
        try:
            self.handle_post()
        finally:
            with self.state.lock:
                self.state.active -= 1
                if self.state.active == 0:
                    self.state.service_seconds += time.time() - self.state.active_since

    def handle_post(self):
        path = self.route()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path == "/public/api/v3/tasks.info" and self.state.args.task:
            return self.tasks_info(raw)
        if path is None:
            return self.send(404, {"detail": "Not Found"})
        if path.startswith("/__emulator/"):
            self.raw = raw
            return self.control("POST", path)
        if path != "/post":
            return self.send(404 if path not in ("/", "/dry_run", "/status") else 405,
                             {"detail": "Not Found" if path not in ("/", "/dry_run", "/status")
                              else "Method Not Allowed"})
        args = self.state.args
        if args.auth and self.headers.get("Authorization") != args.auth:
            return self.send(401, "Unauthorized", "text/plain")
        ctype = self.headers.get("Content-Type", "application/json")
        if not (ctype.startswith("application/json") or "+json" in ctype):
            return self.send(422, {"detail": [{"loc": ["body"], "msg": "value is not a valid dict",
                                               "type": "type_error.dict"}]})
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError as e:
            return self.send(422, {"detail": [{"loc": ["body", 0], "msg": f"Expecting value: {e}",
                                               "type": "value_error.jsondecode"}]})
        fault = self.take_fault()
        if fault and fault.get("exit"):
            # A server that dies with this request in flight: no answer,
            # nothing recorded, the port closed until it is started again.
            with self.state.answering:
                os._exit(3)
        if not self.state.ready:
            fault = dict(fault or {}, status=503)
        if fault and fault.get("delay_ms"):
            time.sleep(fault["delay_ms"] / 1000.0)
        if fault and fault.get("drop"):
            self.close_connection = True
            self.connection.shutdown(2)
            return
        docs = body.get("data", [])
        if isinstance(docs, dict):
            docs = docs.get("docs", [])
        endpoint = body.get("execEndpoint", body.get("exec_endpoint", "/"))
        parameters = body.get("parameters")
        request_id = uuid.uuid4().hex
        if fault and fault.get("status"):
            self.state.note({"status": fault["status"], "docs": len(docs),
                             "active": self.arrived_with, "t": time.time()})
            if fault["status"] == 429:
                self.send_response(429)
                self.send_header("Content-Type", "application/json")
                body = json.dumps({"detail": "Too Many Requests"}).encode()
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                return self.wfile.write(body)
            status = {"code": 1, "description": "ConnectionError('executor unreachable')",
                      "exception": {"name": "ConnectionError", "args": ["unreachable"],
                                    "stacks": ["Traceback ..."], "executor": ""}}
            return self.send(fault["status"], {"header": {"requestId": request_id, "status": status},
                                               "parameters": parameters, "routes": None,
                                               "data": docs})
        started = now_iso()
        out, error = [], None
        with self.state.gpu:
            # Busy time is time holding the one replica, not time queued
            # behind another request for it.
            t0 = time.time()
            # A fixed service time per request and per document, like a
            # GPU's, then the emulator's own work.
            cost = args.batch_cost_ms + args.item_cost_ms * len(docs)
            if cost:
                time.sleep(cost / 1000.0)
            for doc in docs:
                d = {k: None for k in DOC_KEYS}
                d.update({k: v for k, v in doc.items() if k in DOC_KEYS})
                d["id"] = doc.get("id") or uuid.uuid4().hex
                text = doc.get("text")
                try:
                    if isinstance(text, str) and text:
                        d["embedding"] = embedding_for(b"text:" + text.encode(), args.dim)
                        d["mime_type"] = "text"
                    elif doc.get("blob"):
                        try:
                            data = base64.b64decode(doc["blob"])
                        except binascii.Error:
                            return self.send(500, "Internal Server Error", "text/plain")
                        d["embedding"] = image_embedding(data, args.dim)
                        if parameters and parameters.get("drop_image_content"):
                            d["blob"] = None
                    elif isinstance(doc.get("uri"), str) and doc["uri"].startswith("data:"):
                        data = base64.b64decode(doc["uri"].split(",", 1)[1])
                        d["embedding"] = image_embedding(data, args.dim)
                except ExecutorError as e:
                    error = str(e)
                out.append(d)
            busy = time.time() - t0
        with self.state.lock:
            self.state.busy_seconds += busy
            self.state.counts["post"] += 1
            self.state.counts["docs"] += len(docs)
        if fault and fault.get("wrong_length") and out:
            out[0]["embedding"] = (out[0]["embedding"] or [0.0])[:-1]
        if fault and fault.get("null_embedding") and out:
            out[0]["embedding"] = None
        if fault and fault.get("shuffle"):
            out.reverse()
        if fault and fault.get("missing") and out:
            out = out[:-1]
        header = {"requestId": request_id, "status": None, "execEndpoint": endpoint,
                  "targetExecutor": ""}
        route_status = None
        if error is not None:
            route_status = {"code": 1, "description": error,
                            "exception": {"name": "UnidentifiedImageError", "args": [error],
                                          "stacks": ["Traceback (most recent call last): ..."],
                                          "executor": "CLIPEncoder"}}
            header["status"] = route_status
            for d in out:
                d["embedding"] = None
        ended = now_iso()
        images = [hashlib.sha1(base64.b64decode(d["blob"])).hexdigest()
                  for d in docs if isinstance(d, dict) and d.get("blob") and not d.get("text")]
        with self.state.answering:
            self.send(200, {"header": header, "parameters": parameters,
                            "routes": [{"executor": "gateway", "startTime": started,
                                        "endTime": ended, "status": None},
                                       {"executor": "clip_t", "startTime": started,
                                        "endTime": ended, "status": route_status}],
                            "data": out})
            if error is None:
                self.state.note({"status": 200, "docs": len(docs), "images": images,
                                 "active": self.arrived_with, "t": time.time(),
                                 "replica": [t0, t0 + busy]})

    def tasks_info(self, raw):
        args = self.state.args
        if self.headers.get("x-api-key") != args.task_token:
            return self.send(401, {"error": "Unauthorized", "details": {"message": "invalid token"}})
        task = json.loads(raw or b"{}").get("id")
        if task != args.task:
            return self.send(404, {"error": "Task not found",
                                   "details": {"message": f"task {task} not found"}})
        return self.send(200, {"id": task, "workspaceId": 7, "teamId": 3, "type": "app",
                               "status": "started",
                               "settings": {"message": {"appInfo": {"baseUrl": args.prefix}}},
                               "meta": {"app": {"id": 5, "name": "CLIP as Service"}}})

    def control(self, method, path):
        st = self.state
        if path == "/__emulator/faults" and method == "POST":
            spec = json.loads(self.raw or b"{}")
            with st.lock:
                if spec.get("clear"):
                    st.faults = []
                for f in spec.get("add", []):
                    f.setdefault("remaining", 1)
                    st.faults.append(f)
            return self.send(200, {"faults": st.faults})
        if path == "/__emulator/ready" and method == "POST":
            spec = json.loads(self.raw or b"{}")
            with st.lock:
                st.ready = bool(spec.get("ready", True))
            return self.send(200, {"ready": st.ready})
        if path == "/__emulator/state":
            with st.lock:
                return self.send(200, {"counts": st.counts,
                                       "busy_seconds": st.busy_seconds,
                                       "service_seconds": st.service_seconds,
                                       "max_active": st.max_active,
                                       "ready": st.ready})
        self.send(404, {"detail": "Not Found"})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--prefix", default="", help="serve under this path, e.g. /net/TOKEN")
    ap.add_argument("--not-ready", type=int, default=0,
                    help="dry_run answers code 1 for the first N probes")
    ap.add_argument("--batch-cost-ms", type=float, default=0.0,
                    help="fixed inference time per request (one at a time)")
    ap.add_argument("--item-cost-ms", type=float, default=0.0,
                    help="and per document of the request")
    ap.add_argument("--auth", help="require this raw Authorization value")
    ap.add_argument("--task", type=int, help="answer tasks.info for this task id")
    ap.add_argument("--task-token", default="", help="x-api-key tasks.info requires")
    ap.add_argument("--record")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    args.prefix = args.prefix.rstrip("/")
    Handler.state = State(args)
    # socketserver's default backlog of 5 drops the SYNs of a burst of
    # parallel connections, which then wait a second to retry.
    ThreadingHTTPServer.request_queue_size = 128
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
