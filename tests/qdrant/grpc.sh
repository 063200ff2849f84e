#!/bin/sh
# The qdrant store's point writes over Qdrant's gRPC API (grpc_url) against
# the emulator's gRPC side: the same points, payloads and vectors as REST
# writes, upserts and deletes on gRPC only, the API key as metadata,
# UNAVAILABLE retried and nothing acknowledged while the store fails,
# INVALID_ARGUMENT failing the batch, dropped connections and a kill in
# the middle of an upsert losing nothing, a batch over a message size
# limit halved, `embsync check` probing grpc_url, and https verified by
# default.
set -u
. "$top_srcdir/tests/integration/tap.sh"
. "$top_srcdir/tests/emulators/emulator.sh"

work=$(mktemp -d)
trap 'stop_emulators; rm -rf "$work"' EXIT
emu="$top_srcdir/tests/emulators/qdrant/qdrant_emulator.py"
embsync="$top_builddir/embsync"
export EMBSYNC_RETRY_SCALE=0.02
key=rw-key-123456
printf '%s\n' "$key" >"$work/key"

start_emulator qd "$emu" --api-key "$key" --read-only-key ro-key-654321 \
    --grpc-port 0 --grpc-port-file "$work/gport"
base="http://127.0.0.1:$qd_port"
grpc="http://127.0.0.1:$(cat "$work/gport")"
fake_photos "$work/images/c1" 40
# more_photos N: new photos until the folder holds N (fake_photos rewrites
# every file, and a rewritten file is a changed item).
more_photos() {
    "$PYTHON3" - "$work/images/c1" "$1" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    path = os.path.join(d, f"p{i:05d}.jpg")
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(b"\xff\xd8\xff\xe0" + i.to_bytes(4, "big") + b"photo")
PY
}

# write_ini PREFIX GRPC_URL [EXTRA STORE LINES]
write_ini() {
    cat >"$work/q.ini" <<INI
[core]
state_dir = $work/state-$1
plugin_path = $top_builddir/plugins
batch_size = 8
[source]
plugin = dir
root = $work/images
[embedder]
plugin = null
dim = 16
seed = 7
[store]
plugin = qdrant
url = $base
grpc_url = $2
api_key_file = $work/key
collection_prefix = $1
batch_size = 5
${3:-}
INI
}
state() { curl -s "$base/__emulator/state"; }
fault() { curl -s -X POST "$base/__emulator/faults" -d "$1" >/dev/null; }
grpc_log() { curl -s "$base/__emulator/log"; }
# points PREFIX: every point of PREFIXc1 with payload and vector, by id.
points() {
    curl -s -H "api-key: $key" -H 'Content-Type: application/json' \
        -X POST "$base/collections/${1}c1/points/scroll" \
        -d '{"limit": 10000, "with_payload": true, "with_vector": true}'
}
# has_folder PREFIX: the collection holds exactly the folder's images.
has_folder() {
    points "$1" | "$PYTHON3" -c '
import json, os, sys
pts = json.load(sys.stdin)["result"]["points"]
names = sorted(p["payload"]["path"] for p in pts)
want = sorted(os.listdir(sys.argv[1]))
assert names == want, (len(names), len(want), set(want) ^ set(names))
' "$work/images/c1"
}

# REST first, as the reference; then the same folder over gRPC.
write_ini r_ ""
"$embsync" once -c "$work/q.ini" 2>"$work/once.log"
ok $? "a REST-only sync (grpc_url empty) exits 0" || sed 's/^/# /' "$work/once.log"
state | "$PYTHON3" -c '
import json, sys
c = json.load(sys.stdin)["requests"]
assert c.get("PUT /collections/{name}/points", 0) > 0, c
assert not any(k.startswith("gRPC") for k in c), c'
ok $? "with grpc_url empty every point write is REST, as before"
rest_puts=$(state | "$PYTHON3" -c '
import json, sys
print(json.load(sys.stdin)["requests"].get("PUT /collections/{name}/points", 0))')

write_ini g_ "$grpc"
"$embsync" once -c "$work/q.ini" 2>"$work/once.log"
ok $? "a sync with grpc_url set exits 0" || sed 's/^/# /' "$work/once.log"
state | "$PYTHON3" -c '
import json, sys
c = json.load(sys.stdin)["requests"]
# 40 points, at most batch_size (5) per call however the engine grouped
# its batches; the REST count is still the REST run'"'"'s alone.
assert c.get("gRPC /qdrant.Points/Upsert", 0) >= 8, c
assert c.get("PUT /collections/{name}/points", 0) == int(sys.argv[1]), (c, sys.argv[1])
' "$rest_puts"
ok $? "its upserts went over gRPC, batch_size points per call, none over REST"
points r_ >"$work/rest.json"
points g_ >"$work/grpc.json"
"$PYTHON3" - "$work/rest.json" "$work/grpc.json" <<'PY'
import json, sys
rest, grpc = ({p["id"]: p for p in json.load(open(f))["result"]["points"]}
              for f in sys.argv[1:])
assert len(rest) == 40 and rest.keys() == grpc.keys(), (len(rest), len(grpc))
for pid, r in rest.items():
    g = grpc[pid]
    assert isinstance(pid, int), pid
    # The same keys with the same values and types (integers stay integers).
    assert r["payload"] == g["payload"], (r["payload"], g["payload"])
    assert sorted(g["payload"]) == ["dataset", "mtime", "path", "size"], g["payload"]
    for k in ("mtime", "size"):
        assert type(g["payload"][k]) is int, g["payload"]
    assert r["vector"] == g["vector"], pid   # float32 exactly as REST wrote it
PY
ok $? "gRPC writes the same ids, payloads (exact keys, integer types) and vectors as REST"

# `embsync check` probes grpc_url too (qdrant.Qdrant/HealthCheck), and
# names it when it fails: a REST side that answers says nothing of it.
healthchecks() { state | "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)["requests"].get("gRPC /qdrant.Qdrant/HealthCheck", 0))'; }
"$embsync" check -c "$work/q.ini" >"$work/check.out" 2>&1
[ $? -eq 0 ] && [ "$(healthchecks)" -ge 1 ]
ok $? "check with grpc_url set calls the gRPC health check and passes" || sed 's/^/# /' "$work/check.out"
refused=$("$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
write_ini g_ "http://127.0.0.1:$refused"
"$embsync" check -c "$work/q.ini" >"$work/check.out" 2>&1
[ $? -ne 0 ] && grep -q "^store    qdrant: .*gRPC health check of http://127.0.0.1:$refused" "$work/check.out" &&
    ! grep -q "$key" "$work/check.out"
ok $? "check fails naming grpc_url when nothing answers there (REST fine)" || sed 's/^/# /' "$work/check.out"
write_ini g_ "$grpc"
fault '{"add": [{"method": "gRPC", "path": "HealthCheck", "grpc_status": 14, "remaining": 100}]}'
"$embsync" check -c "$work/q.ini" >"$work/check.out" 2>&1
[ $? -ne 0 ] && grep -q "^store    qdrant: .*gRPC health check of $grpc: gRPC UNAVAILABLE (14)" "$work/check.out"
ok $? "check fails naming grpc_url and the status when its health check is UNAVAILABLE" || sed 's/^/# /' "$work/check.out"
fault '{"clear": true}'

# The API key goes as api-key metadata: a read-only key is refused.
printf 'ro-key-654321\n' >"$work/key"
more_photos 42
"$embsync" once -c "$work/q.ini" 2>"$work/once.log"
[ $? -ne 0 ] && grep -q "gRPC PERMISSION_DENIED (7): Forbidden" "$work/once.log" &&
    ! grep -q "ro-key-654321" "$work/once.log"
ok $? "a read-only key is PERMISSION_DENIED, fatal, and never logged" || sed 's/^/# /' "$work/once.log"
printf '%s\n' "$key" >"$work/key"

# UNAVAILABLE twice: retried by the host to success.
curl -s -X DELETE "$base/__emulator/log" >/dev/null
fault '{"add": [{"method": "gRPC", "path": "Upsert", "grpc_status": 14, "remaining": 2}]}'
"$embsync" once -c "$work/q.ini" 2>"$work/once.log"
[ $? -eq 0 ] && grep -q "gRPC .*Upsert: UNAVAILABLE" "$work/once.log" && has_folder g_
ok $? "UNAVAILABLE is retried to success" || sed 's/^/# /' "$work/once.log"
grpc_log | "$PYTHON3" -c '
import json, sys
s = [r["status"] for r in json.load(sys.stdin)["requests"] if r["method"] == "gRPC"]
assert s == [14, 14, 0], s'
ok $? "the emulator saw UNAVAILABLE twice, then the upsert"

# A store that keeps failing: the run fails, nothing is acknowledged, and
# the next run writes the same items.
more_photos 45
fault '{"add": [{"method": "gRPC", "path": "Upsert", "grpc_status": 14, "remaining": 1000}]}'
"$embsync" once -c "$work/q.ini" 2>"$work/once.log"
[ $? -ne 0 ] && grep -q "upsert (gRPC): gRPC UNAVAILABLE (14) after retries" "$work/once.log"
ok $? "UNAVAILABLE that persists fails the run" || sed 's/^/# /' "$work/once.log"
[ "$(points g_ | "$PYTHON3" -c 'import json,sys; print(len(json.load(sys.stdin)["result"]["points"]))')" = 42 ]
ok $? "nothing was written while the store failed"
fault '{"clear": true}'
"$embsync" once -c "$work/q.ini" 2>"$work/once.log"
[ $? -eq 0 ] && grep -q "collection c1: 3 embedded" "$work/once.log" && has_folder g_
ok $? "the unacknowledged items are written on the next run" || sed 's/^/# /' "$work/once.log"

# INVALID_ARGUMENT (Qdrant's words for a wrong dimension), in a
# trailers-only answer and after headers: the batch fails, is not acked.
for how in false true; do
    n=$(ls "$work/images/c1" | wc -l)
    more_photos $((n + 1))
    fault "{\"add\": [{\"method\": \"gRPC\", \"path\": \"Upsert\", \"grpc_status\": 3, \"headers_first\": $how,
            \"message\": \"Wrong input: Vector dimension error: expected dim: 16, got 4\"}]}"
    "$embsync" once -c "$work/q.ini" 2>"$work/once.log"
    [ $? -ne 0 ] && grep -q "gRPC INVALID_ARGUMENT (3): Wrong input: Vector dimension error" "$work/once.log" &&
        ! grep -q "Upsert: INVALID_ARGUMENT, retrying" "$work/once.log"
    ok $? "INVALID_ARGUMENT (headers first: $how) fails the batch without retries" || sed 's/^/# /' "$work/once.log"
    "$embsync" once -c "$work/q.ini" 2>"$work/once.log"
    grep -q "collection c1: 1 embedded" "$work/once.log" && has_folder g_
    ok $? "the refused item is written on the next run (headers first: $how)" || sed 's/^/# /' "$work/once.log"
done

# A message over a tonic server's limit (OUT_OF_RANGE, tonic's words): the
# batch is halved, as REST halves a body over Qdrant's limit, not failed.
n=$(ls "$work/images/c1" | wc -l)
more_photos $((n + 5))
fault '{"add": [{"method": "gRPC", "path": "Upsert", "grpc_status": 11, "remaining": 1,
        "message": "Error, decoded message length too large: found 4194400 bytes, the limit is: 4194304 bytes"}]}'
"$embsync" once -c "$work/q.ini" 2>"$work/once.log"
[ $? -eq 0 ] && grep -q "upsert of 5 points is over Qdrant's gRPC message limit; halving" "$work/once.log" &&
    has_folder g_
ok $? "OUT_OF_RANGE for a message over the limit halves the batch and writes it all" || sed 's/^/# /' "$work/once.log"

# The emulator itself: a real wrong dimension and a missing collection.
"$PYTHON3" - "$top_srcdir/tests/emulators/qdrant" "$(cat "$work/gport")" "$key" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import grpc, qdrant_grpc_emulator as g
pb, stubs = g.load_stubs()
stub = stubs.PointsStub(grpc.insecure_channel("127.0.0.1:" + sys.argv[2]))
meta = (("api-key", sys.argv[3]),)
def status_of(name, dim):
    req = pb.UpsertPoints(collection_name=name, wait=True)
    p = req.points.add()
    p.id.num = 1
    p.vectors.vector.dense.data.extend([0.5] * dim)
    try:
        stub.Upsert(req, metadata=meta, timeout=5)
        return "OK", ""
    except grpc.RpcError as e:
        return e.code().name, e.details()
assert status_of("g_c1", 4) == ("INVALID_ARGUMENT",
    "Wrong input: Vector dimension error: expected dim: 16, got 4"), status_of("g_c1", 4)
assert status_of("nope", 16) == ("NOT_FOUND",
    "Not found: Collection `nope` doesn't exist!"), status_of("nope", 16)
PY
ok $? "the emulator answers a wrong dimension with INVALID_ARGUMENT and a missing collection with NOT_FOUND, in Qdrant's words"

# A connection dropped before and after an applied upsert: retried, lost nothing.
n=$(ls "$work/images/c1" | wc -l)
more_photos $((n + 12))
fault '{"add": [{"method": "gRPC", "path": "Upsert", "drop_before": true},
                {"method": "gRPC", "path": "Upsert", "drop_after_apply": true}]}'
"$embsync" once -c "$work/q.ini" 2>"$work/once.log"
[ $? -eq 0 ] && has_folder g_
ok $? "dropped connections mid-call are retried and lose nothing" || sed 's/^/# /' "$work/once.log"

# The server closes the connection after an answer, while the next call is
# on it: that call is retried on a new connection (opened with prior
# knowledge again), and nothing is lost.
n=$(ls "$work/images/c1" | wc -l)
more_photos $((n + 12))
sleep 0.5 # the calls the relay cut before are logged once their handlers end
curl -s -X DELETE "$base/__emulator/log" >/dev/null
fault '{"add": [{"method": "gRPC", "path": "Upsert", "close_after_answer": true},
                {"method": "gRPC", "path": "Upsert", "delay_ms": 300}]}'
"$embsync" once -c "$work/q.ini" 2>"$work/once.log"
[ $? -eq 0 ] && has_folder g_ && grep -q "Upsert: .*retrying" "$work/once.log" &&
    grpc_log | "$PYTHON3" -c '
import json, sys
s = [r["status"] for r in json.load(sys.stdin)["requests"] if r["method"] == "gRPC"]
assert len(s) >= 3 and all(x == 0 for x in s), s'
ok $? "a connection the server closes is replaced, the call it cut retried, nothing lost" ||
    { sed 's/^/# /' "$work/once.log"; grpc_log | sed 's/^/# /'; echo; }

# Killed in the middle of a (slow) upsert: the next run completes the folder.
n=$(ls "$work/images/c1" | wc -l)
more_photos $((n + 12))
upserts() { state | "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)["requests"].get("gRPC /qdrant.Points/Upsert", 0))'; }
before=$(upserts)
fault '{"add": [{"method": "gRPC", "path": "Upsert", "delay_ms": 3000, "remaining": 1}]}'
"$embsync" once -c "$work/q.ini" 2>"$work/kill.log" &
pid=$!
# Killed once the emulator holds the upsert it is slow to answer.
for _ in $(seq 1 100); do
    [ "$(upserts)" -gt "$before" ] && break
    sleep 0.05
done
sleep 0.2
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
fault '{"clear": true}'
"$embsync" once -c "$work/q.ini" 2>"$work/once.log"
[ $? -eq 0 ] && has_folder g_
ok $? "a kill mid-upsert loses nothing on the next run" || sed 's/^/# /' "$work/once.log"

# Deletes go over gRPC too.
rm -f "$work/images/c1/p00000.jpg" "$work/images/c1/p00001.jpg"
"$embsync" once -c "$work/q.ini" 2>"$work/once.log"
[ $? -eq 0 ] && grep -q "0 embedded, 2 deleted" "$work/once.log" && has_folder g_ &&
    state | "$PYTHON3" -c '
import json, sys
c = json.load(sys.stdin)["requests"]
assert c.get("gRPC /qdrant.Points/Delete", 0) >= 1, c
assert c.get("POST /collections/{name}/points/delete", 0) == 0, c'
ok $? "deletes go over gRPC" || sed 's/^/# /' "$work/once.log"

# A gRPC server in front of Qdrant that refuses messages over 700 bytes
# (grpc-core's RESOURCE_EXHAUSTED "Received message larger than max"):
# halved until each part fits, never retried as it is; a single point over
# the limit fails the run.
for limit in 700 100; do
    rm -f "$work/gport-$limit"
    start_emulator qm "$emu" --api-key "$key" --grpc-port 0 \
        --grpc-port-file "$work/gport-$limit" --grpc-max-message $limit
    base="http://127.0.0.1:$qm_port"
    write_ini m${limit}_ "http://127.0.0.1:$(cat "$work/gport-$limit")"
    "$embsync" once -c "$work/q.ini" 2>"$work/once.log"
    rc=$?
    if [ $limit = 700 ]; then
        [ $rc -eq 0 ] && grep -q "upsert of 5 points is over Qdrant's gRPC message limit; halving" "$work/once.log" &&
            ! grep -q "RESOURCE_EXHAUSTED.*retrying" "$work/once.log" && has_folder m700_
        ok $? "RESOURCE_EXHAUSTED for a message over the limit halves the batch, no retries, all written" ||
            sed 's/^/# /' "$work/once.log"
    else
        [ $rc -ne 0 ] && grep -q "one point is over the server's message size limit (gRPC status 8, HTTP 200: Received message larger than max" "$work/once.log" &&
            ! grep -q "RESOURCE_EXHAUSTED.*retrying" "$work/once.log"
        ok $? "a single point over the message limit fails the run, without retries" || sed 's/^/# /' "$work/once.log"
    fi
done

# https: a self-signed gRPC server is refused unless its certificate is
# given as ca_file.
stop_emulators
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$work/tls.key" \
    -out "$work/tls.crt" 2>/dev/null
rm -f "$work/gport"
start_emulator qd "$emu" --api-key "$key" --grpc-port 0 --grpc-port-file "$work/gport" \
    --grpc-tls "$work/tls.crt" "$work/tls.key"
base="http://127.0.0.1:$qd_port"
write_ini t_ "https://127.0.0.1:$(cat "$work/gport")"
"$embsync" once -c "$work/q.ini" 2>"$work/once.log"
[ $? -ne 0 ] && grep -qi "certificate" "$work/once.log" && ! has_folder t_ 2>/dev/null
ok $? "an https grpc_url with a self-signed certificate is refused by default" || sed 's/^/# /' "$work/once.log"
write_ini t_ "https://127.0.0.1:$(cat "$work/gport")" "ca_file = $work/tls.crt"
"$embsync" once -c "$work/q.ini" 2>"$work/once.log"
[ $? -eq 0 ] && has_folder t_
ok $? "with the certificate as ca_file the TLS gRPC writes succeed" || sed 's/^/# /' "$work/once.log"

done_testing
