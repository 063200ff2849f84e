# Helpers of the supervisely shell tests (sourced after tap.sh and
# emulator.sh, with work, embsync, base and ini set).
sly_state() { curl -s "$base/__emulator/state" >"$work/state.json"; }
sly_control() { curl -s -X POST "$base/__emulator/$1" -d "$2"; }

# Python assertions over the emulator state: S, P (projects), I (images),
# imgs(project).
sly_check() {
    sly_state
    "$PYTHON3" -c "
import json
S = json.load(open('$work/state.json'))
P = S['projects']
I = S['images']
def imgs(p): return {k: v for k, v in I.items() if v['projectId'] == p}
$1" >"$work/check.out" 2>&1
    _rc=$?
    sed 's/^/# /' "$work/check.out"
    return $_rc
}

# The store's points of a collection, one "reference<TAB>score<TAB>id<TAB>payload" line
# each, into $work/dump.<collection>.
sly_dump() {
    [ -s "$work/probe.jpg" ] || curl -s -o "$work/probe.jpg" \
        "$base/previews/q/ext:jpeg/resize:fit:224:224:0/q:70/plain/storage/images/original/1000000.jpg"
    "$embsync" search -c "$ini" --collection "$1" --image "$work/probe.jpg" -k 1000000 \
        >"$work/dump.$1" 2>"$work/search.err"
}

# Converged: each project's store holds exactly its enabled images, every
# payload is exactly the four keys the Generator reads with the image's
# current values, every enabled image is stamped after its last change,
# every disabled one unstamped, and no project is left in progress.
sly_synced() {
    for _p in "$@"; do sly_dump "$_p" || return 1; done
    sly_state
    "$PYTHON3" - "$work" "$@" <<'PY' >"$work/synced.out" 2>&1
import json, sys
work, projects = sys.argv[1], sys.argv[2:]
S = json.load(open(work + "/state.json"))
for p in projects:
    images = {int(k): v for k, v in S["images"].items() if v["projectId"] == int(p)}
    enabled = {i for i, v in images.items() if not v["disabled"]}
    stored = {}
    for line in open(f"{work}/dump.{p}"):
        if line.strip():
            _, _, i, payload = line.rstrip("\n").split("\t", 3)
            stored[int(i)] = json.loads(payload)
    assert set(stored) == enabled, (p, "missing", sorted(enabled - set(stored))[:5],
                                    "orphans", sorted(set(stored) - enabled)[:5])
    for i, payload in stored.items():
        assert sorted(payload) == ["cas_url", "dataset_id", "full_url", "updated_at"], payload
        assert payload["updated_at"] == images[i]["updatedAt"], (i, payload, images[i])
        assert payload["dataset_id"] == images[i]["datasetId"], (i, payload)
        assert payload["full_url"].endswith(f"/storage/images/original/{i}.jpg"), payload
        assert "/previews/q/ext:jpeg/resize:fit:224:224:0/q:70/plain/" in payload["cas_url"], payload
    for i, v in images.items():
        if v["disabled"]:
            assert v["embeddingsUpdatedAt_us"] is None, (i, v)
        else:
            assert v["embeddingsUpdatedAt_us"] and v["embeddingsUpdatedAt_us"] > v["updatedAt_us"], (i, v)
    proj = S["projects"][p]
    assert not proj["embeddingsInProgress"], proj
    assert "embeddings_update_started_at" not in proj["customData"], proj
PY
}

# Runs `embsync once` until sly_synced holds for the projects (at most 6
# runs); prints how many it took, 0 if it never converged.
sly_converge() {
    _n=0
    while [ $_n -lt 6 ]; do
        _n=$((_n + 1))
        "$embsync" once -c "$ini" >>"$work/once.log" 2>&1
        if sly_synced "$@"; then
            echo $_n
            return 0
        fi
    done
    echo 0
}

# Every images.list request the emulator recorded asked for exactly the
# fields its listing reads (`fields`, section 2.7): the upsert listings
# image_change's four, the listings of ids (deleted-image candidates, the
# `id in` existence check) `id` alone, the server-clock read `updatedAt`.
# Fails on a request without `fields`, with a field more or less, or of a
# shape it does not know; and unless every kind was seen.
sly_fields_asked() {
    sly_check "
import json
upsert = ['id', 'datasetId', 'fullStorageUrl', 'updatedAt']
seen = set()
for shape, n in S['list_requests'].items():
    r = json.loads(shape)
    f = r['filter']
    if r['sort'] == 'updatedAt':
        kind, want = 'clock', ['updatedAt']
    elif 'id in' in f:
        kind, want = 'exists', ['id']
    elif r['showDisabled'] and 'updatedAt gt' in f:
        kind, want = 'gone', ['id']
    elif not r['showDisabled'] and r['sort'] == 'id':
        kind, want = 'upsert', upsert
    else:
        raise AssertionError(('a listing of unknown shape', r))
    assert r['fields'] is not None and sorted(r['fields']) == sorted(want), (kind, r, 'wants', want)
    seen.add(kind)
assert seen >= {$1}, ('kinds seen', sorted(seen))
print('fields asked right in', sum(S['list_requests'].values()), 'listings of kinds', sorted(seen))"
}
