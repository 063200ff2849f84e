#!/bin/sh
# The store section's Qdrant options: the collections embsync creates get
# shard_number, replication_factor, write_consistency_factor, vectors
# on_disk, hnsw_config and int8 scalar quantization exactly as
# qdrant-openapi.json spells CreateCollection; point writes (upsert and
# delete) carry ?ordering=; unset keys send nothing; a wrong value is
# refused naming the key and what it allows.
set -u
. "$top_srcdir/tests/integration/tap.sh"
. "$top_srcdir/tests/emulators/emulator.sh"

work=$(mktemp -d)
trap 'stop_emulators; rm -rf "$work"' EXIT
emu="$top_srcdir/tests/emulators/qdrant/qdrant_emulator.py"
spec="$top_srcdir/tests/emulators/qdrant/qdrant-openapi.json"
embsync="$top_builddir/embsync"
export EMBSYNC_RETRY_SCALE=0.02
cp -R "$top_srcdir/samples" "$work/images"
chmod -R u+w "$work/images"

write_ini() { # $1 = port, $2 = state dir, then extra store lines
    _port=$1 _state=$2
    shift 2
    {
        printf '[core]\nstate_dir = %s\nplugin_path = %s\n' "$_state" "$top_builddir/plugins"
        printf '[source]\nplugin = dir\nroot = %s\n' "$work/images"
        printf '[embedder]\nplugin = descriptor\n'
        printf '[store]\nplugin = qdrant\nurl = http://127.0.0.1:%s\ncollection_prefix = t_\n' "$_port"
        printf '%s\n' "$@"
    } >"$work/q.ini"
}

# --- every option set -------------------------------------------------------
record="$work/options.jsonl"
start_emulator qd "$emu" --record "$record"
write_ini "$qd_port" "$work/state" shard_number=2 replication_factor=3 \
    write_consistency_factor=2 on_disk=true hnsw_m=32 hnsw_ef_construct=200 \
    quantization=int8 always_ram=true write_ordering=strong
"$embsync" once -c "$work/q.ini" >"$work/once.out" 2>&1
ok $? "a sync with every option set succeeds" || sed 's/^/# /' "$work/once.out"
victim=$(find "$work/images/shapes" -type f -name '*.png' | head -n 1)
rm -f "$victim"
"$embsync" once -c "$work/q.ini" >"$work/once2.out" 2>&1
ok $? "a second sync deleting an image succeeds" || sed 's/^/# /' "$work/once2.out"

"$PYTHON3" - "$record" <<'PY'
import json, sys
ex = [json.loads(l) for l in open(sys.argv[1])]
creates = [e for e in ex if e["method"] == "PUT" and e["path"] == "/collections/t_shapes"]
assert len(creates) == 1, f"{len(creates)} creates of t_shapes"
body = creates[0]["request"]
want = {"shard_number": 2, "replication_factor": 3, "write_consistency_factor": 2,
        "hnsw_config": {"m": 32, "ef_construct": 200},
        "quantization_config": {"scalar": {"type": "int8", "always_ram": True}}}
for k, v in want.items():
    assert body.get(k) == v, f"{k}: {body.get(k)!r}, expected {v!r}"
assert body["vectors"]["on_disk"] is True, body["vectors"]
assert set(body) == set(want) | {"vectors", "metadata"}, sorted(body)
PY
ok $? "the create body carries each option exactly as the OpenAPI document spells it"

grep_query() { # METHOD PATH-REGEX: every such exchange's query
    "$PYTHON3" - "$record" "$1" "$2" <<'PY'
import json, re, sys
qs = [e["query"] for e in map(json.loads, open(sys.argv[1]))
      if e["method"] == sys.argv[2] and re.fullmatch(sys.argv[3], e["path"])]
print(len(qs), "ordering=strong" if qs and all("ordering=strong" in q for q in qs) else "missing")
PY
}
got=$(grep_query PUT '/collections/t_[a-z]+/points')
case $got in 0\ *|*missing) false ;; *) true ;; esac
ok $? "every upsert carries ordering=strong ($got)"
got=$(grep_query POST '/collections/t_[a-z]+/points/delete')
case $got in 0\ *|*missing) false ;; *) true ;; esac
ok $? "every point delete carries ordering=strong ($got)"

"$PYTHON3" "$top_srcdir/tests/emulators/qdrant/contract.py" "$spec" "$record" >"$work/contract.out"
ok $? "every exchange with the options validates against qdrant-openapi.json"
sed 's/^/# /' "$work/contract.out"
curl -s "http://127.0.0.1:$qd_port/collections/t_shapes" >"$work/info.json"
"$PYTHON3" - "$work/info.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))["result"]["config"]
assert c["params"]["shard_number"] == 2 and c["hnsw_config"]["m"] == 32, c
PY
ok $? "the collection's info reports the options it was created with"
stop_emulators

# --- none set: today's requests, unchanged -----------------------------------
record="$work/plain.jsonl"
start_emulator qd "$emu" --record "$record"
write_ini "$qd_port" "$work/state2"
"$embsync" once -c "$work/q.ini" >"$work/plain.out" 2>&1
ok $? "a sync with no option set succeeds" || sed 's/^/# /' "$work/plain.out"
"$PYTHON3" - "$record" <<'PY'
import json, sys
ex = [json.loads(l) for l in open(sys.argv[1])]
creates = [e["request"] for e in ex if e["method"] == "PUT" and e["path"].count("/") == 2]
assert creates and all(set(b) == {"vectors", "metadata"} and set(b["vectors"]) == {"size", "distance"}
                       for b in creates), creates
assert not any("ordering" in e["query"] for e in ex)
PY
ok $? "unset options send nothing: vectors and metadata only, no ordering"
stop_emulators

# --- wrong values are refused, naming the key ---------------------------------
refused() { # "KEY=VALUE" EXPECTED-TEXT
    write_ini 9 "$work/state3" "$1"
    "$embsync" once -c "$work/q.ini" >"$work/bad.out" 2>&1
    _rc=$?
    [ $_rc -ne 0 ] && grep -q "$2" "$work/bad.out"
    ok $? "$1 is refused: $2" || sed 's/^/# /' "$work/bad.out"
}
refused shard_number=0 "shard_number must be from 1 to 65536, not 0"
refused replication_factor=2000 "replication_factor must be from 1 to 1024, not 2000"
refused write_consistency_factor=3 "write_consistency_factor (3) must not exceed replication_factor (1)"
refused hnsw_m=-1 "hnsw_m must be from 0 to 1024"
refused hnsw_ef_construct=2 "hnsw_ef_construct must be from 4 to 65536, not 2"
refused quantization=int4 "quantization must be none or int8, not int4"
refused always_ram=true "always_ram applies to quantized vectors"
refused write_ordering=fast "write_ordering must be weak, medium or strong, not fast"

done_testing
