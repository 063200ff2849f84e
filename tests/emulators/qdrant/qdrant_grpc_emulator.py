"""The gRPC side of the Qdrant emulator: qdrant.Points Upsert and Delete,
and qdrant.Qdrant HealthCheck, on the same point store, faults, log and counts as the REST side
(qdrant_emulator.py starts it with --grpc-port).

The Python stubs are generated at start, into a temporary directory, from
embsync's own subset of Qdrant's .proto files
(plugins/qdrant/qdrant_points.proto): emulator and plugin read one schema.

Behaviour follows Qdrant 1.19's gRPC service: errors carry the REST
message texts (Qdrant builds both from one StorageError), with
INVALID_ARGUMENT for bad input (a wrong vector dimension: "Wrong input:
Vector dimension error: expected dim: 512, got 4"), NOT_FOUND for a missing
collection, UNAUTHENTICATED / PERMISSION_DENIED for API keys sent as the
`api-key` metadata.  Faults come from the same /__emulator/faults list:
those with "method": "gRPC" (and a "path" regex such as "Upsert") apply
here, with one of
  "grpc_status": CODE (and "message"): answer that status; trailers-only
      (no headers before it) unless "headers_first": true;
  "status": HTTP code: the gRPC status it stands for (503 UNAVAILABLE, ...);
  "delay_ms": answer late (combine with the others);
  "drop_before": cut the connection without applying;
  "drop_after_apply": apply, then cut the connection before the answer;
  "close_after_answer": answer, then close the connection while it idles.
--grpc-max-message BYTES refuses larger request messages the way grpc-core
does.  Qdrant 1.19 sets no such limit on its own services (each is built
with max_decoding_message_size(usize::MAX)); the switch stands for what
may sit in front of it (a grpc-core proxy; a tonic one answers
OUT_OF_RANGE "Error, decoded message length too large: found N bytes, the
limit is: M bytes", which a grpc_status fault with that message models).
Connections reach the server through a small TCP relay so that a fault can
cut them: grpcio itself has no way to drop a client's connection.
"""
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent import futures

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO = os.environ.get("QDRANT_PROTO") or os.path.join(
    HERE, "..", "..", "..", "plugins", "qdrant", "qdrant_points.proto")

# HTTP statuses of the REST side's errors as gRPC codes (Qdrant maps its
# StorageError to both).
HTTP_TO_GRPC = {400: grpc.StatusCode.INVALID_ARGUMENT,
                422: grpc.StatusCode.INVALID_ARGUMENT,
                401: grpc.StatusCode.UNAUTHENTICATED,
                403: grpc.StatusCode.PERMISSION_DENIED,
                404: grpc.StatusCode.NOT_FOUND,
                409: grpc.StatusCode.ALREADY_EXISTS,
                429: grpc.StatusCode.RESOURCE_EXHAUSTED,
                500: grpc.StatusCode.INTERNAL,
                503: grpc.StatusCode.UNAVAILABLE,
                504: grpc.StatusCode.DEADLINE_EXCEEDED}
CODES = {c.value[0]: c for c in grpc.StatusCode}
SERVERS = []


def load_stubs():
    out = tempfile.mkdtemp(prefix="qdrant-grpc-stubs-")
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc",
                    "-I" + os.path.dirname(os.path.abspath(PROTO)),
                    "--python_out=" + out, "--grpc_python_out=" + out,
                    os.path.basename(PROTO)], check=True)
    sys.path.insert(0, out)
    import qdrant_points_pb2
    import qdrant_points_pb2_grpc
    return qdrant_points_pb2, qdrant_points_pb2_grpc


class Relay:
    """Forwards TCP connections to the gRPC server; cut() drops them all."""

    def __init__(self, port, backend_port):
        self.backend_port = backend_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.pairs = set()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            client, _ = self.listener.accept()
            try:
                backend = socket.create_connection(("127.0.0.1", self.backend_port))
            except OSError:
                client.close()
                continue
            for s in (client, backend):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pair = (client, backend)
            with self.lock:
                self.pairs.add(pair)
            threading.Thread(target=self.pump, args=(client, backend, pair),
                             daemon=True).start()
            threading.Thread(target=self.pump, args=(backend, client, pair),
                             daemon=True).start()

    def pump(self, src, dst, pair):
        try:
            while True:
                data = src.recv(1 << 16)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        self.close(pair)

    def close(self, pair):
        with self.lock:
            self.pairs.discard(pair)
        for s in pair:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def cut(self):
        with self.lock:
            pairs = list(self.pairs)
        for pair in pairs:
            self.close(pair)


def from_value(v):
    kind = v.WhichOneof("kind")
    if kind is None or kind == "null_value":
        return None
    if kind == "struct_value":
        return {k: from_value(x) for k, x in v.struct_value.fields.items()}
    if kind == "list_value":
        return [from_value(x) for x in v.list_value.values]
    return getattr(v, kind)


def make_servicer(state, pb, pb_grpc, relay):
    # The REST side's helpers, imported lazily: this module is imported by
    # qdrant_emulator.py, which runs as __main__.
    main = sys.modules["__main__"]
    ApiError, apply_upsert, parse_id = main.ApiError, main.apply_upsert, main.parse_id

    class Points(pb_grpc.PointsServicer):
        def take_fault(self, path):
            with state.lock:
                for f in state.faults:
                    if f.get("remaining", 0) <= 0 or f.get("method") != "gRPC":
                        continue
                    if f.get("path") and not main.re.search(f["path"], path):
                        continue
                    f["remaining"] -= 1
                    return dict(f)
            return None

        def finish(self, path, code, context, message=""):
            with state.lock:
                state.log.append({"method": "gRPC", "path": path,
                                  "status": code.value[0]})
            if code != grpc.StatusCode.OK:
                context.abort(code, message)

        def check_auth(self, context):
            args = state.args
            if not args.api_key and not args.read_only_key:
                return
            meta = dict(context.invocation_metadata())
            key = meta.get("api-key")
            if key is None and meta.get("authorization", "").startswith("Bearer "):
                key = meta["authorization"][len("Bearer "):]
            if key is None:
                raise ApiError(401, "Must provide an API key or an Authorization "
                               "bearer token")
            if args.api_key and key == args.api_key:
                return
            if args.read_only_key and key == args.read_only_key:
                raise ApiError(403, "Forbidden: Global manage access is required")
            raise ApiError(401, "Invalid API key or JWT")

        def begin(self, path):
            """Count a call of path and take its fault, after its delay."""
            with state.lock:
                key = "gRPC " + path
                state.counts[key] = state.counts.get(key, 0) + 1
            fault = self.take_fault(path)
            if fault and fault.get("delay_ms"):
                time.sleep(fault["delay_ms"] / 1000.0)
            return fault

        def call(self, name, request, context, apply):
            started = time.time()
            path = "/qdrant.Points/" + name
            fault = self.begin(path)
            if fault and fault.get("drop_before"):
                relay.cut()
                time.sleep(0.2)
                self.finish(path, grpc.StatusCode.UNAVAILABLE, context, "dropped")
            if fault and (fault.get("grpc_status") or fault.get("status")):
                code = (CODES.get(fault["grpc_status"], grpc.StatusCode.UNKNOWN)
                        if fault.get("grpc_status") else
                        HTTP_TO_GRPC.get(fault["status"], grpc.StatusCode.UNKNOWN))
                if fault.get("headers_first"):
                    context.send_initial_metadata(())
                self.finish(path, code, context, fault.get(
                    "message", "Service unavailable: injected fault"))
            try:
                self.check_auth(context)
                with state.lock:
                    c = state.collections.get(state.aliases.get(
                        request.collection_name, request.collection_name))
                    if c is None:
                        raise ApiError(404, "Not found: Collection "
                                       f"`{request.collection_name}` doesn't exist!")
                    apply(c)
                    op = state.next_op()
            except ApiError as e:
                self.finish(path, HTTP_TO_GRPC.get(e.status, grpc.StatusCode.UNKNOWN),
                            context, e.message)
            if fault and fault.get("drop_after_apply"):
                # Applied; the client never hears about it.
                relay.cut()
                time.sleep(0.2)
                self.finish(path, grpc.StatusCode.UNAVAILABLE, context, "dropped")
            self.finish(path, grpc.StatusCode.OK, context)
            if fault and fault.get("close_after_answer"):
                # The server closes the connection once idle (a restart,
                # an idle timeout): the client's next call finds it gone.
                threading.Timer(0.1, relay.cut).start()
            status = pb.Completed if request.wait else pb.Acknowledged
            return pb.PointsOperationResponse(
                result=pb.UpdateResult(operation_id=op, status=status),
                time=time.time() - started)

        def Upsert(self, request, context):
            def apply(c):
                entries = []
                for p in request.points:
                    which = p.id.WhichOneof("point_id_options")
                    if which is None:
                        raise ApiError(400, "Wrong input: PointId is empty")
                    pid = parse_id(getattr(p.id, which))
                    vector = (list(p.vectors.vector.dense.data)
                              if p.HasField("vectors") and
                              p.vectors.vector.HasField("dense") else None)
                    if not vector:
                        raise ApiError(400, "Wrong input: Vector is not provided "
                                       f"for point {pid}")
                    payload = {k: from_value(v) for k, v in p.payload.items()}
                    entries.append((pid, vector, payload))
                apply_upsert(c, entries)
            return self.call("Upsert", request, context, apply)

        def Delete(self, request, context):
            def apply(c):
                sel = request.points
                if sel.WhichOneof("points_selector_one_of") != "points":
                    raise ApiError(400, "Wrong input: points selector is empty")
                for pid in sel.points.ids:
                    which = pid.WhichOneof("point_id_options")
                    if which is not None:
                        c.points.pop(parse_id(getattr(pid, which)), None)
            return self.call("Delete", request, context, apply)

    points = Points()

    class Qdrant(pb_grpc.QdrantServicer):
        """qdrant.Qdrant/HealthCheck: Qdrant's VersionInfo, behind the same
        API keys (a read-only key may call it) and faults."""

        def HealthCheck(self, request, context):
            path = "/qdrant.Qdrant/HealthCheck"
            fault = points.begin(path)
            if fault and (fault.get("grpc_status") or fault.get("status")):
                code = (CODES.get(fault["grpc_status"], grpc.StatusCode.UNKNOWN)
                        if fault.get("grpc_status") else
                        HTTP_TO_GRPC.get(fault["status"], grpc.StatusCode.UNKNOWN))
                points.finish(path, code, context, fault.get(
                    "message", "Service unavailable: injected fault"))
            try:
                points.check_auth(context)
            except ApiError as e:
                if e.status != 403:  # read-only keys may read
                    points.finish(path, HTTP_TO_GRPC.get(e.status, grpc.StatusCode.UNKNOWN),
                                  context, e.message)
            points.finish(path, grpc.StatusCode.OK, context)
            return pb.HealthCheckReply(title="qdrant - vector search engine",
                                       version=state.args.version)

    return points, Qdrant()


def serve(state, port, port_file, tls=None, max_message=64 << 20):
    """Serve on `port` (0: any), the port written to port_file; with tls =
    (cert file, key file), over TLS (h2 by ALPN), as Qdrant does with
    service.enable_tls.  A request message over max_message bytes is
    refused by grpc-core itself: RESOURCE_EXHAUSTED, "Received message
    larger than max (N vs. M)"."""
    pb, pb_grpc = load_stubs()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                         options=[("grpc.max_receive_message_length", max_message)])
    if tls:
        with open(tls[0], "rb") as c, open(tls[1], "rb") as k:
            creds = grpc.ssl_server_credentials([(k.read(), c.read())])
        backend_port = server.add_secure_port("127.0.0.1:0", creds)
    else:
        backend_port = server.add_insecure_port("127.0.0.1:0")
    relay = Relay(port, backend_port)
    points, qdrant = make_servicer(state, pb, pb_grpc, relay)
    pb_grpc.add_PointsServicer_to_server(points, server)
    pb_grpc.add_QdrantServicer_to_server(qdrant, server)
    server.start()
    SERVERS.append(server)  # a grpc.server stops when it is collected
    if port_file:
        with open(port_file + ".tmp", "w") as f:
            f.write(str(relay.port))
        os.rename(port_file + ".tmp", port_file)
    return server
