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
