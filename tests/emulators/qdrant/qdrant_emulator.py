#!/usr/bin/env python3
"""A Qdrant 1.19 REST emulator for embsync's tests.

Follows Qdrant's REST API (the subset a sync client uses; README.md here) to the letter: envelopes, status codes and message texts, idempotency
edges, exact u64 and UUID point ids, cosine normalisation and scoring,
filters, collection metadata, API keys, the body limit.  See README.md for
the knobs, the fault switches and the choices made where the reference is
silent.

    qdrant_emulator.py --port 0 --port-file F [--api-key K] [--read-only-key K]
                       [--max-body BYTES] [--record FILE] [--version V]
                       [--absent-fields omit|null] [--scroll-cap N]
                       [--grpc-port N] [--grpc-port-file F] [--grpc-tls CERT KEY]
                       [--grpc-max-message BYTES]

With --grpc-port, qdrant_grpc_emulator.py also serves Qdrant's gRPC point
writes (qdrant.Points Upsert and Delete) on the same point store.
"""
import argparse
import json
import math
import re
import signal
import struct
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

U64_MAX = 2**64 - 1
BAD_NAME_CHARS = '<>:"/\\|?*\0\x1f'


class ApiError(Exception):
    """An error answered in Qdrant's envelope (or as plain text)."""

    def __init__(self, status, message, plain=False):
        super().__init__(message)
        self.status = status
        self.message = message
        self.plain = plain


def f32(x):
    """Round to float32, as Qdrant stores and scores."""
    return struct.unpack("f", struct.pack("f", x))[0]


def parse_id(raw):
    """A point id: u64 integer or UUID string (canonical lowercase)."""
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise ApiError(400, f"Format error in JSON body: value {json.dumps(raw)} "
                       "is not a valid point ID, valid values are either an "
                       "unsigned integer or a UUID")
    if isinstance(raw, int):
        if 0 <= raw <= U64_MAX:
            return raw
    else:
        try:
            return str(uuid.UUID(raw))
        except ValueError:
            pass
    raise ApiError(400, f"Format error in JSON body: value {json.dumps(raw)} is "
                   "not a valid point ID, valid values are either an unsigned "
                   "integer or a UUID")


def normalise(vector):
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0 or abs(norm - 1.0) < 1e-6:
        return [f32(v) for v in vector]
    return [f32(v / norm) for v in vector]


def id_order(pid):
    """Qdrant orders integer ids before UUIDs, each by value."""
    return (0, pid, "") if isinstance(pid, int) else (1, 0, pid)


def select_payload(payload, selector):
    """The payload as with_payload selects it, or None when not asked for."""
    if selector is True:
        return payload
    if selector is None or selector is False:
        return None
    if isinstance(selector, list):
        return {k: payload[k] for k in selector if k in payload}
    if isinstance(selector, dict) and "include" in selector:
        return {k: payload[k] for k in selector["include"] if k in payload}
    if isinstance(selector, dict) and "exclude" in selector:
        return {k: v for k, v in payload.items() if k not in selector["exclude"]}
    raise ApiError(400, "Format error in JSON body: data did not match any "
                   "variant of untagged enum WithPayloadInterface")


class Collection:
    def __init__(self, size, distance, metadata, options=None):
        self.size = size
        self.distance = distance
        self.metadata = metadata
        self.options = options or {}  # the create body's cluster/index keys
        self.points = {}            # id -> (vector, payload, version)
        self.payload_schema = {}    # field -> data_type
        self.version = 0

    def info(self):
        o = self.options
        vectors = {"size": self.size, "distance": self.distance}
        if o.get("vectors", {}).get("on_disk") is not None:
            vectors["on_disk"] = o["vectors"]["on_disk"]
        params = {"vectors": vectors,
                  "shard_number": o.get("shard_number") or 1,
                  "replication_factor": o.get("replication_factor") or 1,
                  "write_consistency_factor": o.get("write_consistency_factor") or 1,
                  "on_disk_payload": True}
        hnsw = o.get("hnsw_config") or {}
        config = {
            "params": params,
            "hnsw_config": {"m": hnsw.get("m", 16),
                            "ef_construct": hnsw.get("ef_construct", 100),
                            "full_scan_threshold": 10000,
                            "max_indexing_threads": 0, "on_disk": False},
            "optimizer_config": {"deleted_threshold": 0.2,
                                 "vacuum_min_vector_number": 1000,
                                 "default_segment_number": 0,
                                 "max_segment_size": None,
                                 "memmap_threshold": None,
                                 "indexing_threshold": 10000,
                                 "flush_interval_sec": 5,
                                 "max_optimization_threads": None},
            "wal_config": {"wal_capacity_mb": 32, "wal_segments_ahead": 0},
            "quantization_config": o.get("quantization_config"),
        }
        if self.metadata is not None:
            config["metadata"] = self.metadata
        schema = {k: {"data_type": t, "points": self.count_field(k)}
                  for k, t in self.payload_schema.items()}
        return {"status": "green", "optimizer_status": "ok",
                "indexed_vectors_count": 0, "points_count": len(self.points),
                "segments_count": 1, "config": config,
                "payload_schema": schema, "update_queue": {"length": 0}}

    def count_field(self, key):
        return sum(1 for _, p, _ in self.points.values() if key in p)


def match_condition(cond, pid, payload):
    if "has_id" in cond:
        return pid in {parse_id(i) for i in cond["has_id"]}
    if "key" in cond and "match" in cond:
        value = payload.get(cond["key"])
        values = value if isinstance(value, list) else [value]
        m = cond["match"]
        if "value" in m:
            return m["value"] in values
        if "any" in m:
            return any(v in values for v in m["any"])
        raise ApiError(400, "Format error in JSON body: unknown match variant")
    if "must" in cond or "should" in cond or "must_not" in cond:
        return match_filter(cond, pid, payload)
    raise ApiError(400, "Format error in JSON body: unknown condition")


def match_filter(flt, pid, payload):
    if flt is None:
        return True
    if not isinstance(flt, dict):
        raise ApiError(400, "Format error in JSON body: filter must be an object")
    for key in flt:
        if key not in ("must", "should", "must_not", "min_should"):
            raise ApiError(400, f"Format error in JSON body: unknown field `{key}`, "
                           "expected one of `should`, `min_should`, `must`, `must_not`")

    def conds(key):
        c = flt.get(key)
        if c is None:
            return []
        return c if isinstance(c, list) else [c]

    if not all(match_condition(c, pid, payload) for c in conds("must")):
        return False
    should = conds("should")
    if should and not any(match_condition(c, pid, payload) for c in should):
        return False
    if any(match_condition(c, pid, payload) for c in conds("must_not")):
        return False
    return True


def apply_upsert(c, entries):
    """Write (id, vector, payload) entries into collection c, all or none:
    everything is checked before anything is written.  REST and gRPC
    upserts both end here, so both write the same point store."""
    prepared = []
    for pid, vector, payload in entries:
        pid = parse_id(pid)
        if isinstance(vector, dict):
            raise ApiError(400, "Wrong input: Not existing vector name error: "
                           + next(iter(vector), ""))
        if not isinstance(vector, list) or not vector:
            raise ApiError(422, "Validation error in JSON body: "
                           "[points[0].vector: must not be empty]")
        if len(vector) != c.size:
            raise ApiError(400, "Wrong input: Vector dimension error: "
                           f"expected dim: {c.size}, got {len(vector)}")
        if payload is not None and not isinstance(payload, dict):
            raise ApiError(400, "Format error in JSON body: payload must be an object")
        stored = normalise(vector) if c.distance == "Cosine" else [f32(v) for v in vector]
        prepared.append((pid, stored, payload or {}))
    for pid, stored, payload in prepared:
        c.version += 1
        c.points[pid] = (stored, payload, c.version)


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.collections = {}
        self.aliases = {}           # alias name -> collection name
        self.create_bodies = {}     # collection name -> its create body
        self.operation_id = 0
        self.faults = []            # list of dicts, see README
        self.counts = {}            # "METHOD /template" -> n
        self.log = []               # every API request: method, path, status
        self.record = open(args.record, "a") if args.record else None
        self.record_lock = threading.Lock()

    def next_op(self):
        self.operation_id += 1
        return self.operation_id


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes; without TCP_NODELAY the second
    # waits for the client's delayed ACK (40 ms per keep-alive request).
    disable_nagle_algorithm = True
    server_version = "qdrant-emulator"
    state = None  # set in main

    def log_message(self, fmt, *args):
        if self.state.args.verbose:
            sys.stderr.write("qdrant-emulator: " + (fmt % args) + "\n")

    # ---- plumbing ----------------------------------------------------------

    def send(self, status, body, content_type="application/json", record=None):
        # Compact, as Qdrant's serde_json writes it.
        data = body if isinstance(body, bytes) else (
            json.dumps(body, separators=(",", ":")).encode()
            if content_type == "application/json" else body.encode())
        if record is not None and not record.get("control"):
            # Logged and recorded before the answer leaves: a client that
            # has its answer finds the request in both.
            with self.state.lock:
                self.state.log.append({"method": record["method"],
                                       "path": record["path"], "status": status})
            self.write_record(record, status, body, content_type)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in getattr(self, "extra_headers", {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def write_record(self, record, status, body, content_type):
        st = self.state
        if st.record is None or record.get("control"):
            return
        entry = dict(record)
        entry["status"] = status
        entry["response_content_type"] = content_type
        entry["response"] = body if content_type == "application/json" else (
            body.decode() if isinstance(body, bytes) else body)
        with st.record_lock:
            st.record.write(json.dumps(entry) + "\n")
            st.record.flush()

    def ok(self, result, record, started):
        self.send(200, {"result": result, "status": "ok",
                        "time": round(time.time() - started, 6)}, record=record)

    def error(self, err, record, started):
        if err.plain:
            self.send(err.status, err.message, "text/plain", record=record)
        else:
            self.send(err.status, {"status": {"error": err.message},
                                   "time": round(time.time() - started, 6)},
                      record=record)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        limit = self.state.args.max_body
        if length > limit:
            # Drain so the connection stays usable, then refuse.
            remaining = length
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                remaining -= len(chunk)
            raise ApiError(400, f"Payload error: JSON payload ({length} bytes) is "
                           f"larger than allowed (limit: {limit} bytes).")
        return self.rfile.read(length) if length else b""

    def parse_json(self, raw, required=True):
        if not raw:
            if required:
                raise ApiError(400, "Format error in JSON body: EOF while parsing "
                               "a value at line 1 column 0")
            return None
        try:
            value = json.loads(raw, parse_constant=lambda c: (_ for _ in ()).throw(
                ValueError(c)))
        except ValueError as e:
            raise ApiError(400, f"Format error in JSON body: {e}")
        if not isinstance(value, dict):
            raise ApiError(400, "Format error in JSON body: invalid type: "
                           "expected a JSON object")
        return value

    # ---- auth -------------------------------------------------------------

    def check_auth(self, write):
        args = self.state.args
        if not args.api_key and not args.read_only_key:
            return
        key = self.headers.get("api-key")
        if key is None:
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Bearer "):
                key = auth[len("Bearer "):]
        if key is None:
            raise ApiError(401, "Must provide an API key or an Authorization "
                           "bearer token", plain=True)
        if args.api_key and key == args.api_key:
            return
        if args.read_only_key and key == args.read_only_key:
            if write:
                raise ApiError(403, "Forbidden: Global manage access is required")
            return
        raise ApiError(401, "Invalid API key or JWT", plain=True)

    # ---- faults -----------------------------------------------------------

    def take_fault(self, method, path):
        with self.state.lock:
            for f in self.state.faults:
                if f.get("remaining", 0) <= 0:
                    continue
                if f.get("method") and f["method"] != method:
                    continue
                if f.get("path") and not re.search(f["path"], path):
                    continue
                f["remaining"] -= 1
                return dict(f)
        return None

    # ---- dispatch ---------------------------------------------------------

    def do_GET(self):
        self.dispatch("GET")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_POST(self):
        self.dispatch("POST")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def dispatch(self, method):
        started = time.time()
        url = urlsplit(self.path)
        path = unquote(url.path)
        if len(path) > 1:
            path = path.rstrip("/")  # trailing slashes are trimmed
        query = parse_qs(url.query, keep_blank_values=True)
        record = {"method": method, "path": path, "query": url.query}
        self.extra_headers = {}
        try:
            raw = self.read_body()
        except ApiError as e:
            record["request"] = None
            self.error(e, record, started)
            return
        if path.startswith("/__emulator/"):
            record["control"] = True
            self.control(method, path, raw, record, started)
            return
        try:
            record["request"] = json.loads(raw) if raw else None
        except ValueError:
            record["request"] = None
            record["request_invalid"] = True

        fault = self.take_fault(method, path)
        if fault and fault.get("delay_ms"):
            time.sleep(fault["delay_ms"] / 1000.0)
        if fault and fault.get("status"):
            if fault.get("retry_after") is not None:
                self.extra_headers["Retry-After"] = str(fault["retry_after"])
            messages = {429: "Rate limiting exceeded: write rate limit exceeded",
                        503: "Service unavailable: shard temporarily unavailable",
                        500: "Service internal error: injected fault"}
            self.error(ApiError(fault["status"], messages.get(
                fault["status"], "Service internal error: injected fault")),
                record, started)
            return
        if fault and fault.get("drop_before"):
            self.close_connection = True
            self.connection.shutdown(2)
            return

        try:
            result = self.route(method, path, query, raw, record, started)
        except ApiError as e:
            self.error(e, record, started)
            return
        if result is None:
            return  # the route answered itself
        if fault and fault.get("drop_after_apply"):
            # The write happened; the client never hears about it.
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.ok(result, record, started)

    def count(self, key):
        with self.state.lock:
            self.state.counts[key] = self.state.counts.get(key, 0) + 1

    def route(self, method, path, query, raw, record, started):
        if path == "/" and method == "GET":
            self.count("GET /")
            body = {"title": "qdrant - vector search engine",
                    "version": self.state.args.version,
                    "commit": "74f3e85b9473c62560006c043e13737ce6b48412"}
            self.send(200, body, record=record)
            return None
        if path in ("/healthz", "/livez") and method == "GET":
            self.send(200, "healthz check passed", "text/plain", record=record)
            return None
        if path == "/readyz" and method == "GET":
            self.count("GET /readyz")
            if self.state.args.not_ready:
                self.send(503, "some shards are not ready", "text/plain",
                          record=record)
            else:
                self.send(200, "all shards are ready", "text/plain", record=record)
            return None

        if path == "/aliases" and method == "GET":
            self.check_auth(False)
            self.count("GET /aliases")
            with self.state.lock:
                return self.alias_list(None)
        if path == "/collections/aliases" and method == "POST":
            self.check_auth(True)
            self.count("POST /collections/aliases")
            self.check_query(query)
            return self.update_aliases(raw)
        m = re.fullmatch(r"/collections(?:/([^/]+)(/.*)?)?", path)
        if not m:
            self.check_auth(False)
            self.send(404, b"", "text/plain", record=record)
            return None
        name, rest = m.group(1), m.group(2) or ""
        write = method in ("PUT", "PATCH", "DELETE") or rest in (
            "/points/delete", "/index")
        if rest == "/points" and method == "PUT":
            write = True
        self.check_auth(write)
        if name is None:
            if method != "GET":
                raise ApiError(405, "Method not allowed")
            with self.state.lock:
                return {"collections": [{"name": n} for n in
                                        sorted(self.state.collections)]}
        point = re.fullmatch(r"/points/([^/]+)", rest)
        if method == "GET" and point and point.group(1) not in (
                "delete", "count", "query", "scroll", "search"):
            self.count("GET /collections/{name}/points/{id}")
            self.check_query(query)
            return self.get_point(name, point.group(1))
        key = f"{method} /collections/{{name}}{rest}"
        self.count(key)
        handler = {
            ("GET", ""): self.get_collection,
            ("PUT", ""): self.create_collection,
            ("PATCH", ""): self.update_collection,
            ("DELETE", ""): self.delete_collection,
            ("GET", "/exists"): self.exists,
            ("GET", "/aliases"): self.collection_aliases,
            ("PUT", "/index"): self.create_index,
            ("PUT", "/points"): self.upsert,
            ("POST", "/points/delete"): self.delete_points,
            ("POST", "/points/count"): self.count_points,
            ("POST", "/points/query"): self.query,
            ("POST", "/points/search"): self.search_legacy,
            ("POST", "/points"): self.retrieve,
            ("POST", "/points/scroll"): self.scroll,
        }.get((method, rest))
        if handler is None:
            self.send(404, b"", "text/plain", record=record)
            return None
        self.check_query(query)
        return handler(name, query, raw)

    def check_query(self, query):
        for flag in ("wait",):
            if flag in query and query[flag][0] not in ("true", "false"):
                raise ApiError(400, f"Deserialize error in query parameters: "
                               f"invalid type for `{flag}`: expected a boolean")
        if "ordering" in query and query["ordering"][0] not in ("weak", "medium", "strong"):
            raise ApiError(400, "Deserialize error in query parameters: unknown "
                           f"variant `{query['ordering'][0]}`, expected one of "
                           "`weak`, `medium`, `strong`")
        if "timeout" in query:
            if not re.fullmatch(r"[0-9]+", query["timeout"][0]):
                raise ApiError(400, "Deserialize error in query parameters: "
                               "invalid digit found in string")

    def collection(self, name):
        """The collection a name means: an alias resolves to its target
        (every route but DELETE /collections/{name} resolves it)."""
        c = self.state.collections.get(self.state.aliases.get(name, name))
        if c is None:
            raise ApiError(404, f"Not found: Collection `{name}` doesn't exist!")
        return c

    def write_result(self, query):
        waited = query.get("wait", ["false"])[0] == "true"
        with self.state.lock:
            op = self.state.next_op()
        return {"operation_id": op,
                "status": "completed" if waited else "acknowledged"}

    # ---- collections ------------------------------------------------------

    def get_collection(self, name, query, raw):
        with self.state.lock:
            return self.collection(name).info()

    def create_collection(self, name, query, raw):
        body = self.parse_json(raw, required=False) or {}
        if not 1 <= len(name) <= 255:
            raise ApiError(422, "Validation error in path parameters: "
                           "[collection_name: length must be between 1 and 255]")
        for ch in BAD_NAME_CHARS:
            if ch in name:
                raise ApiError(422, "Validation error in path parameters: "
                               f"[collection_name: collection name cannot contain \"{ch}\" char]")
        vectors = body.get("vectors")
        if not isinstance(vectors, dict) or "size" not in vectors:
            raise ApiError(400, "Bad request: only unnamed dense vectors are emulated")
        size, distance = vectors.get("size"), vectors.get("distance")
        if not isinstance(size, int) or isinstance(size, bool):
            raise ApiError(400, "Format error in JSON body: invalid type for `vectors.size`")
        if not 1 <= size <= 65536:
            raise ApiError(422, "Validation error in JSON body: [vectors.size: value "
                           f"{size} invalid, must be from 1 to 65536]")
        if distance not in ("Cosine", "Euclid", "Dot", "Manhattan"):
            raise ApiError(400, "Format error in JSON body: unknown variant "
                           f"`{distance}`, expected one of `Cosine`, `Euclid`, `Dot`, `Manhattan`")
        self.check_options(body)
        metadata = body.get("metadata")
        if self.state.args.version_tuple < (1, 16):
            metadata = None  # older servers ignore it silently
        with self.state.lock:
            if name in self.state.collections:
                raise ApiError(409, f"Wrong input: Collection `{name}` already exists!")
            if name in self.state.aliases:
                raise ApiError(400, f"Wrong input: Can't create collection with name "
                               f"{name}. Alias with the same name already exists")
            self.state.collections[name] = Collection(size, distance, metadata, body)
            self.state.create_bodies[name] = body
        return True

    @staticmethod
    def check_options(body):
        """The cluster and index options' bounds, as CreateCollection's
        schema gives them (422, Qdrant's validation text)."""
        hnsw = body.get("hnsw_config") or {}
        for where, key, low in (("", "shard_number", 1), ("", "replication_factor", 1),
                                ("", "write_consistency_factor", 1),
                                ("hnsw_config.", "m", 0),
                                ("hnsw_config.", "ef_construct", 4)):
            value = (hnsw if where else body).get(key)
            if value is None:
                continue
            if not isinstance(value, int) or isinstance(value, bool):
                raise ApiError(400, f"Format error in JSON body: invalid type for `{where}{key}`")
            if value < low:
                raise ApiError(422, f"Validation error in JSON body: [{where}{key}: value "
                               f"{value} invalid, must be {low} or more]")
        quant = body.get("quantization_config")
        if quant is not None:
            scalar = quant.get("scalar") if isinstance(quant, dict) else None
            if not isinstance(scalar, dict) or scalar.get("type") != "int8":
                raise ApiError(400, "Format error in JSON body: only scalar int8 "
                               "quantization is emulated")

    def update_collection(self, name, query, raw):
        body = self.parse_json(raw) or {}
        with self.state.lock:
            c = self.collection(name)
            if "metadata" in body and self.state.args.version_tuple >= (1, 16):
                merged = dict(c.metadata or {})
                for k, v in (body["metadata"] or {}).items():
                    if v is None:
                        merged.pop(k, None)
                    else:
                        merged[k] = v
                c.metadata = merged
        return True

    def delete_collection(self, name, query, raw):
        # Does not resolve an alias: an alias's name deletes nothing.
        with self.state.lock:
            if self.state.collections.pop(name, None) is None:
                return False
            self.state.create_bodies.pop(name, None)
            for alias in [a for a, t in self.state.aliases.items() if t == name]:
                del self.state.aliases[alias]
            return True

    def exists(self, name, query, raw):
        with self.state.lock:
            return {"exists": self.state.aliases.get(name, name)
                    in self.state.collections}

    # ---- aliases ------------------------------------------------------------

    def alias_list(self, collection):
        return {"aliases": [{"alias_name": a, "collection_name": t}
                            for a, t in sorted(self.state.aliases.items())
                            if collection is None or t == collection]}

    def collection_aliases(self, name, query, raw):
        with self.state.lock:
            if name not in self.state.collections:
                raise ApiError(404, f"Not found: Collection `{name}` doesn't exist!")
            return self.alias_list(name)

    def update_aliases(self, raw):
        """Actions run in order; the first that fails stops the list and
        what ran before it stays done (Qdrant 1.19 does not roll back)."""
        body = self.parse_json(raw)
        actions = body.get("actions")
        if not isinstance(actions, list):
            raise ApiError(400, "Format error in JSON body: missing field `actions`")
        with self.state.lock:
            for action in actions:
                self.alias_action(action)
        return True

    def alias_action(self, action):
        st = self.state
        if not isinstance(action, dict) or len(action) != 1:
            raise ApiError(400, "Format error in JSON body: data did not match "
                           "any variant of untagged enum AliasOperations")
        kind, args = next(iter(action.items()))
        if not isinstance(args, dict):
            raise ApiError(400, "Format error in JSON body: data did not match "
                           "any variant of untagged enum AliasOperations")
        if kind == "create_alias":
            alias, target = args.get("alias_name"), args.get("collection_name")
            if not isinstance(alias, str) or not isinstance(target, str):
                raise ApiError(400, "Format error in JSON body: missing field "
                               "`alias_name` or `collection_name`")
            if target not in st.collections:
                raise ApiError(404, f"Not found: Collection `{target}` doesn't exist!")
            if alias in st.collections:
                raise ApiError(409, f"Wrong input: Collection `{alias}` already exists!")
            st.aliases[alias] = target  # an existing alias is repointed
        elif kind == "delete_alias":
            alias = args.get("alias_name")
            if alias not in st.aliases:
                raise ApiError(404, f"Not found: Alias {alias} does not exists!")
            del st.aliases[alias]
        elif kind == "rename_alias":
            old, new = args.get("old_alias_name"), args.get("new_alias_name")
            if old not in st.aliases:
                raise ApiError(404, f"Not found: Alias {old} does not exists!")
            if new in st.collections:
                raise ApiError(409, f"Wrong input: Collection `{new}` already exists!")
            st.aliases[new] = st.aliases.pop(old)
        else:
            raise ApiError(400, "Format error in JSON body: data did not match "
                           "any variant of untagged enum AliasOperations")

    def create_index(self, name, query, raw):
        body = self.parse_json(raw)
        field = body.get("field_name")
        schema = body.get("field_schema")
        if schema is None:
            raise ApiError(400, "Bad request: Can't auto-detect field type, please "
                           "specify `field_schema` in the request")
        kind = schema if isinstance(schema, str) else schema.get("type")
        with self.state.lock:
            self.collection(name).payload_schema[field] = kind
        return self.write_result(query)

    # ---- points -----------------------------------------------------------

    def upsert(self, name, query, raw):
        body = self.parse_json(raw)
        if "points" in body:
            items = body["points"]
            if not isinstance(items, list):
                raise ApiError(400, "Format error in JSON body: `points` must be a list")
            entries = [(p.get("id"), p.get("vector"), p.get("payload")) for p in items]
        elif "batch" in body:
            b = body["batch"]
            ids, vectors = b.get("ids", []), b.get("vectors", [])
            payloads = b.get("payloads")
            if len(ids) != len(vectors) or (payloads is not None and len(payloads) != len(ids)):
                raise ApiError(422, "Validation error in JSON body: [batch: number of "
                               f"ids and vectors must be equal ({len(ids)} != {len(vectors)})]")
            entries = list(zip(ids, vectors, payloads or [None] * len(ids)))
        else:
            raise ApiError(400, "Format error in JSON body: data did not match any "
                           "variant of untagged enum PointInsertOperations")
        with self.state.lock:
            apply_upsert(self.collection(name), entries)
        return self.write_result(query)

    def delete_points(self, name, query, raw):
        body = self.parse_json(raw)
        with self.state.lock:
            c = self.collection(name)
            if "points" in body:
                for pid in body["points"]:
                    c.points.pop(parse_id(pid), None)
            elif "filter" in body:
                for pid in [p for p, (_, pl, _) in c.points.items()
                            if match_filter(body["filter"], p, pl)]:
                    del c.points[pid]
            else:
                raise ApiError(400, "Format error in JSON body: expected `points` or `filter`")
        return self.write_result(query)

    def count_points(self, name, query, raw):
        body = self.parse_json(raw)
        with self.state.lock:
            c = self.collection(name)
            flt = body.get("filter")
            n = sum(1 for p, (_, pl, _) in c.points.items() if match_filter(flt, p, pl))
        return {"count": n}

    def query(self, name, query, raw):
        body = self.parse_json(raw)
        q = body.get("query")
        if isinstance(q, dict):
            q = q.get("nearest")
        limit = body.get("limit", 10)
        offset = body.get("offset", 0)
        return {"points": self.nearest(name, q, body, limit, offset)}

    def search_legacy(self, name, query, raw):
        """The pre-1.10 search, dropped from the 1.19 spec but still routed
        (qdrant-rest.md, 4.10); clients such as the Embeddings Generator's
        may still call it.  The answer is a bare list of scored points."""
        body = self.parse_json(raw)
        limit = body.get("limit", body.get("top"))
        if limit is None:
            raise ApiError(400, "Format error in JSON body: missing field `limit`")
        vector = body.get("vector")
        if isinstance(vector, dict):
            vector = vector.get("vector")
        if not isinstance(vector, list):
            raise ApiError(400, "Format error in JSON body: missing field `vector`")
        return self.nearest(name, vector, body, limit, body.get("offset", 0))

    def nearest(self, name, q, body, limit, offset):
        """Scored points nearest to q (a vector or a point id), as query and
        the legacy search answer them."""
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ApiError(422, "Validation error in JSON body: [limit: value 0 invalid, must be 1 or more]")
        offset = offset or 0
        with self.state.lock:
            c = self.collection(name)
            if isinstance(q, (int, str)) and not isinstance(q, bool):
                q = c.points[parse_id(q)][0]
            if not isinstance(q, list):
                raise ApiError(400, "Format error in JSON body: unsupported query")
            if len(q) != c.size:
                raise ApiError(400, "Wrong input: Vector dimension error: "
                               f"expected dim: {c.size}, got {len(q)}")
            qv = normalise(q) if c.distance == "Cosine" else q
            flt = body.get("filter")
            scored = []
            for pid, (vec, payload, version) in c.points.items():
                if not match_filter(flt, pid, payload):
                    continue
                if c.distance in ("Cosine", "Dot"):
                    score = f32(sum(a * b for a, b in zip(qv, vec)))
                elif c.distance == "Euclid":
                    score = f32(math.sqrt(sum((a - b) ** 2 for a, b in zip(qv, vec))))
                else:
                    score = f32(sum(abs(a - b) for a, b in zip(qv, vec)))
                scored.append((score, pid, vec, payload, version))
            higher_better = c.distance in ("Cosine", "Dot")
            scored.sort(key=lambda s: -s[0] if higher_better else s[0])
            threshold = body.get("score_threshold")
            if threshold is not None:
                scored = [s for s in scored if (s[0] >= threshold if higher_better
                                                else s[0] <= threshold)]
            page = scored[offset:offset + limit]
            with_payload = body.get("with_payload", False)
            with_vector = body.get("with_vector", False)
            points = []
            for score, pid, vec, payload, version in page:
                point = {"id": pid, "version": version, "score": score}
                selected = select_payload(payload, with_payload)
                if selected is not None:
                    point["payload"] = selected
                if with_vector:
                    point["vector"] = vec
                points.append(point)
        return points

    # ---- reading records (retrieve, scroll) --------------------------------

    def record_of(self, pid, vector, payload, with_payload, with_vector):
        """A Record: payload and vector when asked for; otherwise omitted or
        null, as --absent-fields says (the reference does not settle it)."""
        rec = {"id": pid}
        selected = select_payload(payload, with_payload)
        if selected is not None:
            rec["payload"] = selected
        elif self.state.args.absent_fields == "null":
            rec["payload"] = None
        if with_vector:
            rec["vector"] = vector
        elif self.state.args.absent_fields == "null":
            rec["vector"] = None
        return rec

    def retrieve(self, name, query, raw):
        body = self.parse_json(raw)
        if "ids" not in body:
            raise ApiError(400, "Format error in JSON body: missing field `ids`")
        if not isinstance(body["ids"], list):
            raise ApiError(400, "Format error in JSON body: invalid type: expected a sequence")
        wanted = [parse_id(i) for i in body["ids"]]
        with_payload = body.get("with_payload", True)
        with_vector = body.get("with_vector", False)
        with self.state.lock:
            c = self.collection(name)
            out, seen = [], set()
            for pid in wanted:
                if pid in c.points and pid not in seen:
                    seen.add(pid)
                    vec, payload, _ = c.points[pid]
                    out.append(self.record_of(pid, vec, payload, with_payload,
                                              with_vector))
        return out

    def get_point(self, name, raw_id):
        pid = parse_id(int(raw_id) if re.fullmatch(r"[0-9]+", raw_id) else raw_id)
        with self.state.lock:
            c = self.collection(name)
            if pid not in c.points:
                raise ApiError(404, f"Not found: No point with id {pid} found")
            vec, payload, _ = c.points[pid]
            return self.record_of(pid, vec, payload, True, True)

    def scroll(self, name, query, raw):
        body = self.parse_json(raw, required=False) or {}
        limit = body.get("limit")
        limit = 10 if limit is None else limit
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ApiError(422, "Validation error in JSON body: [limit: value "
                           f"{limit} invalid, must be 1 or more]")
        cap = self.state.args.scroll_cap
        if cap:
            limit = min(limit, cap)  # a server-side cap below what was asked
        offset = body.get("offset")
        start = id_order(parse_id(offset)) if offset is not None else None
        with_payload = body.get("with_payload", True)
        with_vector = body.get("with_vector", False)
        flt = body.get("filter")
        with self.state.lock:
            c = self.collection(name)
            ordered = sorted(c.points, key=id_order)
            page, next_offset = [], None
            for pid in ordered:
                if start is not None and id_order(pid) < start:
                    continue
                vec, payload, _ = c.points[pid]
                if not match_filter(flt, pid, payload):
                    continue
                if len(page) == limit:
                    next_offset = pid
                    break
                page.append(self.record_of(pid, vec, payload, with_payload,
                                           with_vector))
        return {"points": page, "next_page_offset": next_offset}

    # ---- control ------------------------------------------------------------

    def control(self, method, path, raw, record, started):
        st = self.state
        if path == "/__emulator/faults" and method == "POST":
            spec = json.loads(raw or b"{}")
            with st.lock:
                if spec.get("clear"):
                    st.faults = []
                for f in spec.get("add", []):
                    f.setdefault("remaining", 1)
                    st.faults.append(f)
            self.send(200, {"faults": st.faults})
        elif path == "/__emulator/log" and method == "GET":
            with st.lock:
                out = {"requests": list(st.log)}
            self.send(200, out)
        elif path == "/__emulator/log" and method == "DELETE":
            with st.lock:
                st.log = []
            self.send(200, {"requests": []})
        elif path == "/__emulator/state" and method == "GET":
            with st.lock:
                out = {"requests": dict(st.counts), "aliases": dict(st.aliases),
                       "create_bodies": dict(st.create_bodies), "collections": {
                    n: {"size": c.size, "distance": c.distance,
                        "metadata": c.metadata, "payload_schema": c.payload_schema,
                        "points": {str(p): {"payload": pl} for p, (_, pl, _) in
                                   c.points.items()}}
                    for n, c in st.collections.items()}}
            self.send(200, out)
        else:
            self.send(404, {"error": "unknown control route"})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--api-key")
    ap.add_argument("--read-only-key")
    ap.add_argument("--max-body", type=int, default=32 * 1024 * 1024)
    ap.add_argument("--record", help="append every exchange to FILE (JSON lines)")
    ap.add_argument("--version", default="1.19.0")
    ap.add_argument("--not-ready", action="store_true")
    ap.add_argument("--absent-fields", choices=("omit", "null"), default="omit",
                    help="records read without payload/vector: keys omitted or null")
    ap.add_argument("--scroll-cap", type=int, default=0,
                    help="answer at most N points per scroll, whatever the limit")
    ap.add_argument("--grpc-port", type=int, default=None,
                    help="also serve qdrant.Points Upsert/Delete over gRPC on PORT (0: any)")
    ap.add_argument("--grpc-port-file", help="write the gRPC port to FILE")
    ap.add_argument("--grpc-tls", nargs=2, metavar=("CERT", "KEY"),
                    help="serve gRPC over TLS with this certificate and key")
    ap.add_argument("--grpc-max-message", type=int, default=64 << 20,
                    help="refuse gRPC request messages over BYTES as grpc-core does "
                         "(RESOURCE_EXHAUSTED): a limit in front of Qdrant, which sets none")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    args.version_tuple = tuple(int(x) for x in args.version.split(".")[:2])
    Handler.state = State(args)
    # socketserver's default backlog of 5 drops the SYNs of a burst of
    # parallel connections, which then wait a second to retry.
    ThreadingHTTPServer.request_queue_size = 128
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    if args.grpc_port is not None or args.grpc_port_file:
        import qdrant_grpc_emulator
        qdrant_grpc_emulator.serve(Handler.state, args.grpc_port or 0,
                                   args.grpc_port_file, args.grpc_tls,
                                   args.grpc_max_message)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(
        target=server.shutdown).start())
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(server.server_address[1]))
        import os
        os.rename(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
