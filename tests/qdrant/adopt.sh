#!/bin/sh
# Adopting the collections the Embeddings Generator made: right size and
# distance, no model record.  Through `embsync once` (dir source, null
# embedder of 512 floats, qdrant store) against the Qdrant emulator seeded
# over REST exactly as the Generator does (seed_generator.py): the
# collection is kept, not a seeded point is rewritten, the model is
# recorded in its metadata (or, before Qdrant 1.16, in the state
# directory).  With adopt = false it is a mismatch and rebuilt; a wrong size
# or a recorded identity that differs is a mismatch either way.
set -u
. "$top_srcdir/tests/integration/tap.sh"
. "$top_srcdir/tests/emulators/emulator.sh"

work=$(mktemp -d)
trap 'stop_emulators; rm -rf "$work"' EXIT
emus="$top_srcdir/tests/emulators"
spec="$emus/qdrant/qdrant-openapi.json"
embsync="$top_builddir/embsync"
seed="$emus/qdrant/seed_generator.py"
export EMBSYNC_RETRY_SCALE=0.02
record="$work/exchanges.jsonl"

# Folders 42 (two images), 43 and 45 (one each): the dir source's
# collections; 44 comes later.
for c in 42 43 44 45; do mkdir -p "$work/images/$c"; done
cp "$top_srcdir/samples/shapes/target.png" "$work/images/42/a.png"
cp "$top_srcdir/samples/shapes/target-copy.jpg" "$work/images/42/b.jpg"
cp "$top_srcdir/samples/shapes/target.png" "$work/images/43/a.png"
cp "$top_srcdir/samples/shapes/target.png" "$work/images/44/a.png"
cp "$top_srcdir/samples/shapes/target.png" "$work/images/45/a.png"
chmod -R u+w "$work/images"
mv "$work/images/44" "$work/later-44"

write_ini() { # $1 = extra store lines
    cat >"$work/a.ini" <<INI
[core]
state_dir = $work/state
plugin_path = $top_builddir/plugins
[source]
plugin = dir
root = $work/images
[embedder]
plugin = null
dim = 512
[store]
plugin = qdrant
url = $qdrant
$1
INI
}
start_qdrant() {
    start_emulator qd "$emus/qdrant/qdrant_emulator.py" --record "$record" "$@"
    qdrant="http://127.0.0.1:$qd_port"
}
# The seeded points of a collection, with payloads and vectors, by id.
snapshot() { # $1 = collection, $2 = output file
    "$PYTHON3" - "$emus/qdrant" "$qdrant" "$1" >"$2" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[1])
from seed_generator import call
s, b = call(sys.argv[2], "POST", f"/collections/{sys.argv[3]}/points",
            {"ids": list(range(1000000, 1000030)), "with_payload": True, "with_vector": True})
assert s == 200, b
print(json.dumps(sorted(b["result"], key=lambda r: r["id"])))
PY
}
requests() { curl -s "$qdrant/__emulator/log"; }
# The collection a name reads from: itself, or what its alias points at.
collection() { curl -s "$qdrant/__emulator/state" | "$PYTHON3" -c "
import json, sys; s = json.load(sys.stdin)
print(json.dumps(s['collections'].get(s['aliases'].get('$1', '$1'))))"; }

start_qdrant
"$PYTHON3" "$seed" --url "$qdrant" --collection 42 --count 30 --datasets 7,8 >/dev/null &&
    "$PYTHON3" "$seed" --url "$qdrant" --collection 43 --count 5 --size 256 >/dev/null &&
    "$PYTHON3" "$seed" --url "$qdrant" --collection 45 --count 5 --distance Dot >/dev/null
ok $? "seeded 42 (30 points, 512 Cosine, no metadata), 43 (size 256) and 45 (Dot) as the Generator does"
snapshot 42 "$work/before.json"
curl -s -X DELETE "$qdrant/__emulator/log" >/dev/null
seeded=$(wc -l <"$record")
write_ini ""
"$embsync" once -c "$work/a.ini" 2>"$work/once.log"
ok $? "a run over the seeded collections exits 0" || sed 's/^/# /' "$work/once.log"
grep "adopted" "$work/once.log" | sed 's/^/# /'
grep -q "collection 42: adopted the store's existing collection" "$work/once.log" &&
    grep -q "adopted Qdrant collection 42 (size 512, Cosine, no model record): recorded null:512 in its metadata; its 30 points are kept" "$work/once.log"
ok $? "collection 42 is adopted, and both the engine and the store say so"
requests >"$work/log.json"
"$PYTHON3" - "$work/log.json" <<'PY'
import json, sys
log = json.load(open(sys.argv[1]))["requests"]
deletes = [r["path"] for r in log if r["method"] == "DELETE"]
creates = [r["path"] for r in log if r["method"] == "PUT" and r["path"].count("/") == 2]
patches = [r["path"] for r in log if r["method"] == "PATCH"]
print(f"# DELETE {deletes}, create {creates}, PATCH {patches}")
assert deletes == ["/collections/43", "/collections/45"], deletes
# Rebuilt beside the live collection, then the name made an alias of it.
assert [c.split("__")[0] for c in creates] == ["/collections/43", "/collections/45"], creates
assert all("__" in c for c in creates), creates
switches = [r for r in log if r["method"] == "POST" and r["path"] == "/collections/aliases"]
assert len(switches) == 2, switches
assert patches == ["/collections/42"], patches
PY
ok $? "no collection dropped but the wrong-size 43 and the wrong-distance 45 (rebuilt beside, then aliased); 42 gets one PATCH"
"$PYTHON3" - "$record" "$seeded" <<'PY'
import json, sys
ids = set()
for line in open(sys.argv[1]).readlines()[int(sys.argv[2]):]:
    ex = json.loads(line)
    if ex["method"] == "PUT" and ex["path"] == "/collections/42/points":
        ids |= {p["id"] for p in ex["request"]["points"]}
assert len(ids) == 2 and not ids & set(range(1000000, 1000030)), sorted(ids)
print(f"# upserted into 42: {sorted(ids)}")
PY
ok $? "the only points written into 42 are the two images of its folder"
snapshot 42 "$work/after.json"
cmp -s "$work/before.json" "$work/after.json"
ok $? "all 30 seeded points of 42 are unchanged, payloads and vectors"
collection 42 | "$PYTHON3" -c '
import json, sys
c = json.load(sys.stdin)
assert c["metadata"] == {"embsync_model": "null:512", "embsync_dim": 512, "embsync_version": "1.1"}, c["metadata"]
assert c["payload_schema"] == {"dataset_id": "keyword"} and len(c["points"]) == 32, c["payload_schema"]'
ok $? "42 records the model in its metadata, keeps its index, holds 30 + 2 points"
collection 43 | "$PYTHON3" -c '
import json, sys
c = json.load(sys.stdin)
assert c["size"] == 512 and c["metadata"]["embsync_model"] == "null:512" and len(c["points"]) == 1, c' &&
    collection 45 | "$PYTHON3" -c '
import json, sys
c = json.load(sys.stdin)
assert c["distance"] == "Cosine" and c["metadata"]["embsync_model"] == "null:512" and len(c["points"]) == 1, c'
ok $? "the wrong-size 43 and the Dot 45 are mismatches: rebuilt as 512 Cosine with their one image"

curl -s -X DELETE "$qdrant/__emulator/log" >/dev/null
"$embsync" once -c "$work/a.ini" 2>"$work/once.log"
requests | "$PYTHON3" -c '
import json, sys
log = json.load(sys.stdin)["requests"]
assert not [r for r in log if r["method"] in ("DELETE", "PATCH")], log' &&
    grep -q "collection 42: 0 embedded, 0 deleted" "$work/once.log" && ! grep -q adopted "$work/once.log"
ok $? "the next run finds 42 recorded: nothing adopted, patched, dropped or embedded" || sed 's/^/# /' "$work/once.log"

# adopt = false: the strict reading rebuilds what records no model.
"$PYTHON3" "$seed" --url "$qdrant" --collection 44 --count 30 >/dev/null
mv "$work/later-44" "$work/images/44"
curl -s -X DELETE "$qdrant/__emulator/log" >/dev/null
write_ini "adopt = false"
"$embsync" once -c "$work/a.ini" 2>"$work/once.log"
rc=$?
requests | "$PYTHON3" -c '
import json, sys
log = json.load(sys.stdin)["requests"]
deletes = [r["path"] for r in log if r["method"] == "DELETE"]
assert deletes == ["/collections/44"], deletes
assert not [r for r in log if r["method"] == "PATCH"], log' &&
    [ $rc -eq 0 ] && grep -q "collection 44: .*unrecorded model (size 512, Cosine) and adopt = false" "$work/once.log" &&
    grep -q "collection 44: 1 embedded.*(rebuilt)" "$work/once.log"
ok $? "with adopt = false a collection without a model record is a mismatch, dropped and rebuilt" || sed 's/^/# /' "$work/once.log"
collection 42 | grep -q '"embsync_model": "null:512"' && ! grep -q "collection 42: .*rebuilt" "$work/once.log"
ok $? "with adopt = false a collection that records this model is kept"

# A recorded identity that differs is a model change, adopt or not.
write_ini ""
curl -s -X PATCH "$qdrant/collections/42" -H 'Content-Type: application/json' \
    -d '{"metadata": {"embsync_model": "clip:ViT-L-14::openai:512"}}' >/dev/null
curl -s -X DELETE "$qdrant/__emulator/log" >/dev/null
"$embsync" once -c "$work/a.ini" 2>"$work/once.log"
requests | "$PYTHON3" -c '
import json, sys
log = json.load(sys.stdin)["requests"]
assert [r["path"] for r in log if r["method"] == "DELETE"] == ["/collections/42"], log' &&
    grep -q "collection 42: the store holds vectors of another model.*clip:ViT-L-14::openai:512" "$work/once.log"
ok $? "a recorded model that differs is a mismatch even with adopt on" || sed 's/^/# /' "$work/once.log"

# Before 1.16 the record goes to the state directory, consistently.
stop_emulators
start_qdrant --version 1.15.2
rm -rf "$work/state"
"$PYTHON3" "$seed" --url "$qdrant" --collection 42 --count 30 >/dev/null
snapshot 42 "$work/before.json"
write_ini ""
"$embsync" once -c "$work/a.ini" 2>"$work/once.log" &&
    grep -q "adopted Qdrant collection 42 (size 512, Cosine, no model record): recorded null:512 in its local record; its 30 points are kept" "$work/once.log" &&
    [ "$(cat "$work/state/store-qdrant/42.model")" = "null:512" ]
ok $? "on Qdrant 1.15 the adopted model is recorded in the state directory" || sed 's/^/# /' "$work/once.log"
snapshot 42 "$work/after.json"
requests | "$PYTHON3" -c '
import json, sys
log = json.load(sys.stdin)["requests"]
assert not [r for r in log if r["method"] in ("DELETE", "PATCH")], log' &&
    cmp -s "$work/before.json" "$work/after.json"
ok $? "... with no PATCH, no DELETE, and the seeded points unchanged"
"$embsync" once -c "$work/a.ini" 2>"$work/once.log" &&
    grep -q "collection 42: 0 embedded, 0 deleted" "$work/once.log" && ! grep -q adopted "$work/once.log"
ok $? "... and the next run reads that record back" || sed 's/^/# /' "$work/once.log"

stop_emulators
"$PYTHON3" "$emus/qdrant/contract.py" "$spec" "$record" >"$work/contract.tap"
rc=$?
sed 's/^/# /' "$work/contract.tap"
ok $rc "every request and response exchanged validates against qdrant-openapi.json"

done_testing
