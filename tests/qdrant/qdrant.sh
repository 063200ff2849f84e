#!/bin/sh
# The qdrant store against the Qdrant emulator: dir -> descriptor -> qdrant
# through `embsync once`, exact u64 ids, the payload index, model records and
# rebuilds, every fault switch, read-only keys, the body limit, and the
# contract test of everything exchanged against qdrant-openapi.json.
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
record="$work/exchanges.jsonl"

start_emulator qd "$emu" --record "$record" --api-key rw-key-123456 --read-only-key ro-key-654321
base="http://127.0.0.1:$qd_port"
printf 'rw-key-123456\n' >"$work/key"
write_ini() { # $1 = embedder body, $2 = extra store lines
    cat >"$work/q.ini" <<INI
[core]
state_dir = $work/state
plugin_path = $top_builddir/plugins
batch_size = 4
[source]
plugin = dir
root = $work/images
[embedder]
$1
[store]
plugin = qdrant
url = $base
api_key_file = $work/key
collection_prefix = t_
batch_size = 3
$2
INI
}
write_ini "plugin = descriptor" ""
state() { curl -s "$base/__emulator/state"; }
fault() { curl -s -X POST "$base/__emulator/faults" -d "$1" >/dev/null; }

# Every collection in Qdrant holds exactly the folder's images, with the ids
# the dir source gives them (exact u64 integers on both sides).
matches_folder() {
    state >"$work/state.json"
    for c in shapes textures; do
        any=$(find "$work/images/$c" -type f -name '*.png' | head -n 1)
        "$embsync" search -c "$work/q.ini" --collection "$c" --image "$any" -k 1000 \
            >"$work/dump" 2>"$work/search.err" || { sed 's/^/# /' "$work/search.err"; return 1; }
        "$PYTHON3" "$top_srcdir/tests/integration/store_matches.py" "$work/images/$c" <"$work/dump" || return 1
        "$PYTHON3" - "$work/state.json" "t_$c" "$work/dump" <<'PY' || return 1
import json, sys
state = json.load(open(sys.argv[1]))["collections"][sys.argv[2]]
stored = {int(k) for k in state["points"]}
seen = {int(line.split("\t")[2]) for line in open(sys.argv[3]) if line.strip()}
assert stored == seen, (sorted(stored - seen), sorted(seen - stored))
assert any(i > 2**53 for i in stored), "expected ids above 2^53"
PY
    done
}

"$embsync" once -c "$work/q.ini" 2>"$work/once.log"
ok $? "first sync into Qdrant exits 0" || sed 's/^/# /' "$work/once.log"
matches_folder
ok $? "Qdrant holds exactly the images, with exact u64 ids above 2^53"
state | "$PYTHON3" -c '
import json, sys
s = json.load(sys.stdin)["collections"]["t_shapes"]
assert s["size"] == 247 and s["distance"] == "Cosine", s
assert s["metadata"]["embsync_model"] == "descriptor:v4:247", s["metadata"]
assert s["payload_schema"] == {"dataset_id": "keyword"}, s["payload_schema"]'
ok $? "collections created with size, distance, model metadata and the payload index"

q=$("$embsync" search -c "$work/q.ini" --collection shapes \
    --image "$work/images/shapes/circles/red-circle.png" -k 2 | cut -f4 | head -n 1)
echo "$q" | grep -q '"path":"circles/red-circle.png"' && ! echo "$q" | grep -q embsync_id
ok $? "search finds an image as its own top hit, payload without the id copy"

# Faults: 503 twice and a 429 with Retry-After on upserts, a dropped
# connection after an applied write: all retried, nothing lost.
cp "$work/images/shapes/target.png" "$work/images/shapes/target-2.png"
cp "$work/images/textures/sea.png" "$work/images/textures/sea-2.png"
printf 'x' >>"$work/images/shapes/target-2.png"
fault '{"add": [{"method": "PUT", "path": "/points$", "status": 503, "remaining": 2},
                {"method": "PUT", "path": "/points$", "status": 429, "retry_after": 1, "remaining": 1},
                {"method": "PUT", "path": "/points$", "drop_after_apply": true, "remaining": 1}]}'
"$embsync" once -c "$work/q.ini" 2>"$work/once.log"
ok $? "transient 503, 429 and a dropped connection are retried to success" || sed 's/^/# /' "$work/once.log"
grep -q "HTTP 429, retrying in 1.0 s" "$work/once.log"
ok $? "Retry-After is honoured"
matches_folder
ok $? "after the faults Qdrant matches the folder"

# A delete that keeps failing is a failure and is not acknowledged.
rm -f "$work/images/shapes/target-2.png"
fault '{"add": [{"method": "POST", "path": "/points/delete", "status": 500, "remaining": 100}]}'
"$embsync" once -c "$work/q.ini" 2>"$work/once.log"
[ $? -ne 0 ] && grep -q "remove: POST /collections/t_shapes/points/delete?wait=true: Qdrant answered 500 after retries" "$work/once.log"
ok $? "a failing delete fails the run" || sed 's/^/# /' "$work/once.log"
fault '{"clear": true}'
"$embsync" once -c "$work/q.ini" 2>"$work/once.log"
grep -q "collection shapes: 0 embedded, 1 deleted" "$work/once.log" && matches_folder
ok $? "the unacknowledged delete is done on the next run"

# The body limit: halve the batch and go on.
stop_emulators
start_emulator qd "$emu" --record "$record" --api-key rw-key-123456 --read-only-key ro-key-654321 --max-body 6000
base="http://127.0.0.1:$qd_port"
write_ini "plugin = descriptor" ""
rm -rf "$work/state"
"$embsync" once -c "$work/q.ini" 2>"$work/once.log"
[ $? -eq 0 ] && grep -q "over Qdrant's body limit; halving" "$work/once.log" && matches_folder
ok $? "an oversize body is split until it fits" || tail -5 "$work/once.log" | sed 's/^/# /'

# Keys: a read-only key is refused with a clear message; no key is a 401.
printf 'ro-key-654321\n' >"$work/key"
cp "$work/images/shapes/target.png" "$work/images/shapes/target-3.png"
printf 'yy' >>"$work/images/shapes/target-3.png"
"$embsync" once -c "$work/q.ini" 2>"$work/once.log"
[ $? -ne 0 ] && grep -q "may not write (403, a read-only key?)" "$work/once.log"
ok $? "a read-only key is refused with a clear message" || sed 's/^/# /' "$work/once.log"
printf 'wrong-key-000000\n' >"$work/key"
"$embsync" once -c "$work/q.ini" 2>"$work/once.log"
[ $? -ne 0 ] && grep -q "refused the API key (401)" "$work/once.log" &&
    ! grep -q "wrong-key-000000" "$work/once.log"
ok $? "a wrong key is a 401, and the key never appears in the log"
printf 'rw-key-123456\n' >"$work/key"

# A model change rebuilds the collection (beside the old one: the name
# becomes an alias of the new collection).
write_ini "plugin = null
dim = 16" ""
"$embsync" once -c "$work/q.ini" 2>"$work/once.log"
[ $? -eq 0 ] && grep -q "(rebuilt)" "$work/once.log" &&
    state | "$PYTHON3" -c '
import json, sys
s = json.load(sys.stdin)
assert s["aliases"]["t_shapes"].startswith("t_shapes__"), s["aliases"]
assert "t_shapes" not in s["collections"], sorted(s["collections"])
s = s["collections"][s["aliases"]["t_shapes"]]
assert s["size"] == 16 and s["metadata"]["embsync_model"] == "null:16", s'
ok $? "a new model rebuilds the collection and re-embeds, the name then an alias of the new one" || sed 's/^/# /' "$work/once.log"

# Before 1.16 the model record lives in the state directory.
stop_emulators
start_emulator qd "$emu" --record "$record" --version 1.15.2
base="http://127.0.0.1:$qd_port"
write_ini "plugin = descriptor" ""
sed -i '/^api_key_file/d' "$work/q.ini"
rm -rf "$work/state"
"$embsync" once -c "$work/q.ini" 2>"$work/once.log" &&
    "$embsync" once -c "$work/q.ini" 2>"$work/once2.log" &&
    grep -q "keeps no collection metadata" "$work/once.log" &&
    grep -q "collection shapes: 0 embedded" "$work/once2.log" &&
    [ -f "$work/state/store-qdrant/t_shapes.model" ]
ok $? "on Qdrant 1.15 the model record is kept locally and verified" || sed 's/^/# /' "$work/once.log"

stop_emulators
"$PYTHON3" "$top_srcdir/tests/emulators/qdrant/contract.py" "$spec" "$record" >"$work/contract.tap"
rc=$?
sed 's/^/# /' "$work/contract.tap"
ok $rc "every request and response exchanged validates against qdrant-openapi.json"

done_testing
