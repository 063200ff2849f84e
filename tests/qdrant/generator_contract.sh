#!/bin/sh
# The contract with the Embeddings Generator: Supervisely projects synced
# through the supervisely source, the null embedder (512 floats) and the
# qdrant store, then read back from Qdrant exactly as the Generator reads
# them (scroll with payloads and vectors, a search per dataset filtered by
# dataset_id, retrieve by ids).  Every point must carry exactly the four
# keys dataset_id, full_url, cas_url, updated_at, and nothing else.
set -u
. "$top_srcdir/tests/integration/tap.sh"
. "$top_srcdir/tests/emulators/emulator.sh"

work=$(mktemp -d)
trap 'stop_emulators; rm -rf "$work"' EXIT
emus="$top_srcdir/tests/emulators"
spec="$emus/qdrant/qdrant-openapi.json"
embsync="$top_builddir/embsync"
export EMBSYNC_RETRY_SCALE=0.02
record="$work/exchanges.jsonl"
token="sly-api-token-$$"

start_emulator sly "$emus/supervisely/supervisely_emulator.py" --token "$token" \
    --fixture "$top_srcdir/tests/supervisely/fixture.json"
start_emulator qd "$emus/qdrant/qdrant_emulator.py" --record "$record"
qdrant="http://127.0.0.1:$qd_port"
printf '%s\n' "$token" >"$work/token"
cat >"$work/g.ini" <<INI
[core]
state_dir = $work/state
plugin_path = $top_builddir/plugins
batch_size = 16
[source]
plugin = supervisely
server = http://127.0.0.1:$sly_port
token_file = $work/token
page_size = 5
stale_after = 12
[embedder]
plugin = null
dim = 512
[store]
plugin = qdrant
url = $qdrant
collection_prefix =
INI

"$embsync" once -c "$work/g.ini" 2>"$work/once.log"
ok $? "a pass over the Supervisely projects into Qdrant exits 0" || sed 's/^/# /' "$work/once.log"
"$embsync" once -c "$work/g.ini" 2>"$work/once2.log"
ok $? "a second pass (the cleared stuck project) exits 0" || sed 's/^/# /' "$work/once2.log"

# The collections as the Generator expects them: named by the project id,
# 512 Cosine, the dataset_id keyword index; and every point's payload.
curl -s "$qdrant/__emulator/state" >"$work/state.json"
"$PYTHON3" - "$work/state.json" <<'PY'
import json, sys
cols = json.load(open(sys.argv[1]))["collections"]
assert sorted(cols) == ["42", "45", "47"], sorted(cols)
four = {"dataset_id", "full_url", "cas_url", "updated_at"}
for name, c in cols.items():
    assert c["size"] == 512 and c["distance"] == "Cosine", (name, c["size"], c["distance"])
    assert c["payload_schema"] == {"dataset_id": "keyword"}, c["payload_schema"]
    for pid, p in c["points"].items():
        assert set(p["payload"]) == four, (name, pid, p["payload"])
        assert isinstance(p["payload"]["dataset_id"], int), p["payload"]
print("# " + ", ".join(f"{n}: {len(c['points'])} points" for n, c in sorted(cols.items())))
PY
ok $? "collections 42, 45, 47: 512 Cosine, dataset_id index, every stored payload exactly the four keys"

for p in 42:12 45:2 47:400; do
    name=${p%%:*} want=${p#*:}
    "$PYTHON3" "$emus/qdrant/read_as_generator.py" --url "$qdrant" --collection "$name" \
        --expect "$want" >"$work/read-$name.json"
    rc=$?
    sed 's/^/# /' "$work/read-$name.json"
    "$PYTHON3" - "$work/read-$name.json" "$want" <<'PY' || rc=1
import json, sys
r = json.load(open(sys.argv[1])); n = int(sys.argv[2])
assert r["payload_keys"] == {"cas_url,dataset_id,full_url,updated_at": n}, r["payload_keys"]
assert r["scrolled"] == n and r["retrieved"] == n and r["searched"] > 0 and r["failed"] == 0, r
PY
    ok $rc "project $name: the Generator reads all $want points (scroll, search by dataset, retrieve) as records of exactly the four keys"
done

# seed_generator.py --images writes, for the same images, the very payloads
# embsync wrote: what a migration test seeds is what the original left.
curl -s -X POST "http://127.0.0.1:$sly_port/public/api/v3/images.list" -H "x-api-key: $token" \
    -H 'Content-Type: application/json' -d '{"projectId": 42, "page": 1, "per_page": 1000}' |
    "$PYTHON3" -c 'import json, sys; json.dump(json.load(sys.stdin)["entities"], sys.stdout)' \
    >"$work/images-42.json" &&
    "$PYTHON3" "$emus/qdrant/seed_generator.py" --url "$qdrant" --collection seeded-42 \
        --images "$work/images-42.json" >/dev/null &&
    curl -s "$qdrant/__emulator/state" >"$work/state.json" &&
    "$PYTHON3" - "$work/state.json" <<'PY'
import json, sys
cols = json.load(open(sys.argv[1]))["collections"]
ours, seeded = cols["42"], cols["seeded-42"]
assert seeded["metadata"] is None and seeded["size"] == 512, seeded["metadata"]
assert seeded["payload_schema"] == {"dataset_id": "keyword"}, seeded["payload_schema"]
mine = {k: p["payload"] for k, p in ours["points"].items()}
theirs = {k: p["payload"] for k, p in seeded["points"].items()}
for k in sorted(set(mine) | set(theirs)):
    assert mine.get(k) == theirs.get(k), (k, mine.get(k), theirs.get(k))
print(f"# {len(theirs)} seeded payloads equal to the ones embsync wrote")
PY
ok $? "seed_generator.py --images reproduces the payloads embsync writes for the same images"

# The reader is not blind: a fifth key (what embsync used to add) fails it.
"$PYTHON3" "$emus/qdrant/seed_generator.py" --url "$qdrant" --collection 900 --count 3 >/dev/null
"$PYTHON3" - "$emus/qdrant" "$qdrant" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
from seed_generator import call, unit_vector
s, b = call(sys.argv[2], "PUT", "/collections/900/points?wait=true", {"points": [
    {"id": 1000001, "vector": unit_vector(1000001, 512),
     "payload": {"dataset_id": 1, "full_url": "u", "cas_url": "c", "updated_at": "t",
                 "embsync_id": "1000001"}}]})
assert s == 200, b
PY
"$PYTHON3" "$emus/qdrant/read_as_generator.py" --url "$qdrant" --collection 900 >"$work/read-900.json"
[ $? -eq 1 ] && grep -q '"failed": [1-9]' "$work/read-900.json"
ok $? "the reader fails on a point with a fifth key, as the Generator does" || sed 's/^/# /' "$work/read-900.json"

stop_emulators
"$PYTHON3" "$emus/qdrant/contract.py" "$spec" "$record" >"$work/contract.tap"
rc=$?
sed 's/^/# /' "$work/contract.tap"
ok $rc "every request and response exchanged validates against qdrant-openapi.json"

done_testing
