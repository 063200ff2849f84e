#!/bin/sh
# Moving over from the original service: the state it and the Embeddings
# Generator leave behind (a collection per project made by the Generator,
# without a model record: size 512, Cosine, a dataset_id keyword index,
# points whose payload is exactly dataset_id, full_url, cas_url and
# updated_at; every image and the project stamped), then 20 images added,
# 10 modified and 10 deleted.  embsync's first run through the real
# plugins (supervisely -> clip -> qdrant, against their emulators) must
# re-embed only those 30, drop no collection, and leave every point
# readable as the Generator reads it.
set -u
. "$top_srcdir/tests/integration/tap.sh"
. "$top_srcdir/tests/emulators/emulator.sh"
. "$top_srcdir/tests/supervisely/lib.sh"

work=$(mktemp -d)
trap 'stop_emulators; rm -rf "$work"' EXIT
embsync="$top_builddir/embsync"
ini="$work/s.ini"
export EMBSYNC_RETRY_SCALE=0.02
token="sly-api-token-$(date +%s)"
printf '%s\n' "$token" >"$work/token"

# The original left project 60 with every image embedded and stamped.
"$PYTHON3" - "$work/fixture.json" <<'PY'
import datetime, json, sys
def ago(minutes):
    t = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=minutes)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
json.dump({"teams": [{"id": 3, "name": "Vision", "plan": "pro"}],
           "projects": [{"id": 60, "name": "warehouse", "teamId": 3, "images": 200,
                         "datasets": [11, 12, 13], "imagesEmbeddedAt": ago(40),
                         "embeddingsUpdatedAt": ago(30)}]},
          open(sys.argv[1], "w"))
PY
start_emulator sly "$top_srcdir/tests/emulators/supervisely/supervisely_emulator.py" \
    --token "$token" --fixture "$work/fixture.json"
base="http://127.0.0.1:$sly_port"
start_emulator qd "$top_srcdir/tests/emulators/qdrant/qdrant_emulator.py"
qdrant="http://127.0.0.1:$qd_port"
start_emulator clip "$top_srcdir/tests/emulators/clip/clip_emulator.py" --dim 512
clip="http://127.0.0.1:$clip_port"
cat >"$ini" <<INI
[core]
state_dir = $work/state
plugin_path = $top_builddir/plugins
[source]
plugin = supervisely
server = $base
token_file = $work/token
[embedder]
plugin = clip
url = $clip
[store]
plugin = qdrant
url = $qdrant
INI

# Seed Qdrant through its REST API as the Generator does: the collection,
# the index, then every image's point (ids and payloads from images.list,
# as the Generator reads them).
"$PYTHON3" - "$base" "$token" "$qdrant" <<'PY' >"$work/seed.out" 2>&1
import json, random, sys, urllib.request
sly, token, qdrant = sys.argv[1:]
def call(url, body, method="POST", headers=None):
    req = urllib.request.Request(url, json.dumps(body).encode(),
                                 {"Content-Type": "application/json", **(headers or {})}, method=method)
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())
images, page = [], 1
while True:
    ans = call(f"{sly}/public/api/v3/images.list",
               {"projectId": 60, "page": page, "per_page": 50}, headers={"x-api-key": token})
    images += ans["entities"]
    if page >= ans["pagesCount"]:
        break
    page += 1
assert len(images) == 200, len(images)
call(f"{qdrant}/collections/60", {"vectors": {"size": 512, "distance": "Cosine"}}, "PUT")
call(f"{qdrant}/collections/60/index?wait=true",
     {"field_name": "dataset_id", "field_schema": "keyword"}, "PUT")
rng = random.Random(60)
points = []
for e in images:
    rest = e["fullStorageUrl"][len(sly):]
    points.append({"id": e["id"], "vector": [rng.uniform(-1, 1) for _ in range(512)],
                   "payload": {"dataset_id": e["datasetId"], "full_url": e["fullStorageUrl"],
                               "cas_url": f"{sly}/previews/q/ext:jpeg/resize:fit:224:224:0/q:70/plain{rest}",
                               "updated_at": e["updatedAt"]}})
call(f"{qdrant}/collections/60/points?wait=true", {"points": points}, "PUT")
PY
ok $? "the Generator's collection seeded through Qdrant's REST API: 200 points" || sed 's/^/# /' "$work/seed.out"
curl -s "$qdrant/__emulator/state" >"$work/seeded.json"

# 20 added, 10 modified, 10 deleted.
sly_control images '{"add": {"project": 60, "count": 20, "dataset": 12}}' >/dev/null
sly_control images '{"modify": [1000000, 1000011, 1000022, 1000033, 1000044, 1000055, 1000066, 1000077, 1000088, 1000099],
                     "delete": [1000100, 1000111, 1000122, 1000133, 1000144, 1000155, 1000166, 1000177, 1000188, 1000199]}' >/dev/null

"$embsync" once -c "$ini" >"$work/once.log" 2>&1
ok $? "embsync's first run exits 0" || sed 's/^/# /' "$work/once.log"
curl -s "$qdrant/__emulator/state" >"$work/after.json"
sly_state

# Every point readable as the Generator reads it: the enabled images exactly,
# each with exactly the four keys and the image's current values.
"$PYTHON3" - "$work" "$base" <<'PY' >"$work/points.out" 2>&1
import json, sys
work, sly = sys.argv[1:]
S = json.load(open(work + "/state.json"))
Q = json.load(open(work + "/after.json"))["collections"]["60"]
images = {int(k): v for k, v in S["images"].items() if v["projectId"] == 60}
enabled = {i for i, v in images.items() if not v["disabled"]}
points = {int(k): v["payload"] for k, v in Q["points"].items()}
assert len(enabled) == 210 and set(points) == enabled, (len(points), sorted(set(points) ^ enabled)[:5])
assert Q["size"] == 512 and Q["distance"] == "Cosine", Q
assert Q["payload_schema"] == {"dataset_id": "keyword"}, Q["payload_schema"]
for i in enabled:
    v = images[i]
    assert v["embeddingsUpdatedAt_us"] > v["updatedAt_us"], (i, v)
for i, v in images.items():
    if v["disabled"]:
        assert v["embeddingsUpdatedAt"] is None, (i, v)
print("keys seen:", sorted({k for p in points.values() for k in p}))
PY
ok $? "Qdrant holds exactly the 210 enabled images; every image stamped right" ||
    sed 's/^/# /' "$work/points.out"

"$PYTHON3" - "$work" "$base" <<'PY' >"$work/payload.out" 2>&1
import json, sys
work, sly = sys.argv[1:]
S = json.load(open(work + "/state.json"))
Q = json.load(open(work + "/after.json"))["collections"]["60"]
for k, v in Q["points"].items():
    p, img = v["payload"], S["images"][k]
    assert sorted(p) == ["cas_url", "dataset_id", "full_url", "updated_at"], (k, sorted(p))
    assert p["dataset_id"] == img["datasetId"] and p["updated_at"] == img["updatedAt"], (k, p, img)
    assert p["full_url"] == f"{sly}/storage/images/original/{k}.jpg", p
    assert p["cas_url"] == f"{sly}/previews/q/ext:jpeg/resize:fit:224:224:0/q:70/plain/storage/images/original/{k}.jpg", p
PY
payload_rc=$?

# What only a collection adopted in place gives: nothing dropped, only the
# 30 changed images fetched and embedded, the 180 others' points untouched.
"$PYTHON3" - "$work" <<'PY' >"$work/adopt.out" 2>&1
import json, sys
work = sys.argv[1]
S = json.load(open(work + "/state.json"))
before = json.load(open(work + "/seeded.json"))["collections"]["60"]["points"]
after = json.load(open(work + "/after.json"))
drops = {k: n for k, n in after["requests"].items() if k.startswith("DELETE") and "points" not in k}
assert not drops, drops
assert S["counts"].get("previews") == 30, S["counts"].get("previews")
changed = {str(1000000 + 11 * k) for k in range(10)}
for k, v in before.items():
    if k in after["collections"]["60"]["points"] and k not in changed:
        assert after["collections"]["60"]["points"][k]["payload"] == v["payload"], k
PY
adopt_rc=$?
embedded=$(sed -n 's/.*collection 60: \([0-9]*\) embedded, \([0-9]*\) deleted.*/\1/p' "$work/once.log")
deleted=$(sed -n 's/.*collection 60: \([0-9]*\) embedded, \([0-9]*\) deleted.*/\2/p' "$work/once.log")
[ "$embedded" = 30 ] && [ "$deleted" = 10 ] || adopt_rc=1
echo "# migration: ${embedded:-?} images embedded, ${deleted:-?} deleted, $(grep -c 'rebuilding it' "$work/once.log") collection(s) dropped and rebuilt"

# Adoption (the qdrant store adopting a Generator-made collection) and the
# store writing the payload exactly as given land with the qdrant work that
# adds the store's `adopt` key; until the qdrant plugin declares it, these
# two are reported as TODO, and then they are plain assertions.
if "$embsync" plugins -c "$ini" 2>/dev/null | grep -qw adopt; then todo=""; else
    todo=" # TODO adoption and exact payloads land with the qdrant store's adopt key (i14a)"; fi
tap_n=$((tap_n + 1))
if [ $adopt_rc -eq 0 ]; then echo "ok $tap_n - the collection is adopted: nothing dropped, only the 30 changed images embedded$todo"
else echo "not ok $tap_n - the collection is adopted: nothing dropped, only the 30 changed images embedded$todo"
    sed 's/^/# /' "$work/adopt.out"; [ -z "$todo" ] && tap_failed=$((tap_failed + 1)); fi
tap_n=$((tap_n + 1))
if [ $payload_rc -eq 0 ]; then echo "ok $tap_n - every point's payload is exactly the four keys the Generator reads$todo"
else echo "not ok $tap_n - every point's payload is exactly the four keys the Generator reads$todo"
    sed 's/^/# /' "$work/payload.out"; [ -z "$todo" ] && tap_failed=$((tap_failed + 1)); fi

"$embsync" once -c "$ini" >"$work/once.log" 2>&1
grep -q "collection 60: 0 embedded, 0 deleted" "$work/once.log"
ok $? "the next run has nothing to do" || sed 's/^/# /' "$work/once.log"
done_testing
