#!/bin/sh
# The supervisely source against the Supervisely API emulator, with the
# descriptor embedder and the faiss-local store: free-plan, disabled, stuck
# and busy projects; stamps set exactly when stored and nulled when removed;
# modified images re-embedded in the same run; faults retried or reported;
# a run killed mid-project resumed.
set -u
. "$top_srcdir/tests/integration/tap.sh"
. "$top_srcdir/tests/emulators/emulator.sh"

work=$(mktemp -d)
trap 'stop_emulators; rm -rf "$work"' EXIT
emu="$top_srcdir/tests/emulators/supervisely/supervisely_emulator.py"
embsync="$top_builddir/embsync"
export EMBSYNC_RETRY_SCALE=0.02
token="sly-api-token-$(date +%s)"
start_emulator sly "$emu" --token "$token" --fixture "$top_srcdir/tests/supervisely/fixture.json"
base="http://127.0.0.1:$sly_port"
printf '%s\n' "$token" >"$work/token"
cat >"$work/s.ini" <<INI
[core]
state_dir = $work/state
plugin_path = $top_builddir/plugins
batch_size = 16
[source]
plugin = supervisely
server = $base
token_file = $work/token
page_size = 5
download_concurrency = 4
stale_after = 12
[embedder]
plugin = descriptor
[store]
plugin = faiss-local
INI
state() { curl -s "$base/__emulator/state" >"$work/state.json"; }
control() { curl -s -X POST "$base/__emulator/$1" -d "$2"; }
check() { # python assertions over the emulator state ($S)
    state
    "$PYTHON3" -c "
import json, sys
S = json.load(open('$work/state.json'))
P = S['projects']
I = S['images']
def imgs(p): return {k: v for k, v in I.items() if v['projectId'] == p}
$1" >"$work/check.out" 2>&1
    rc=$?
    sed 's/^/# /' "$work/check.out"
    return $rc
}
stored() { # $1 = project: number of vectors in the store
    any=$(ls "$work"/*.jpg 2>/dev/null | head -n 1)
    "$embsync" search -c "$work/s.ini" --collection "$1" --image "$any" -k 100000 2>/dev/null | wc -l
}
curl -s -o "$work/probe.jpg" \
    "$base/previews/q/ext:jpeg/resize:fit:224:224:0/q:70/plain/storage/images/original/1000000.jpg"

"$embsync" once -c "$work/s.ini" 2>"$work/once.log"
ok $? "first pass over the projects exits 0" || sed 's/^/# /' "$work/once.log"
check "
p = P['42']
assert p['embeddingsUpdatedAt'] and not p['embeddingsInProgress'], p
assert 'embeddings_update_started_at' not in p['customData'], p['customData']
assert all(v['embeddingsUpdatedAt'] for v in imgs(42).values())
assert P['43']['embeddingsEnabled'] is False and all(v['embeddingsUpdatedAt'] is None for v in imgs(43).values())
assert P['44']['embeddingsUpdatedAt'] is None and all(v['embeddingsUpdatedAt'] is None for v in imgs(44).values())
assert P['45']['embeddingsInProgress'] is False and P['45']['customData'] == {'keep': 1}, P['45']
assert P['46']['embeddingsInProgress'] is True and 'embeddings_update_started_at' in P['46']['customData']
assert all(v['embeddingsUpdatedAt'] is None for v in imgs(46).values())
"
ok $? "free-plan project disabled, disabled one untouched, stale flag cleared, busy one left alone"
[ "$(stored 42)" -eq 12 ] && [ "$(stored 47)" -eq 400 ]
ok $? "every image of the synced projects has its vector (paged 5 at a time)"

"$embsync" once -c "$work/s.ini" 2>"$work/once.log"
grep -q "collection 45: 2 embedded" "$work/once.log" && grep -q "collection 42: 0 embedded, 0 deleted" "$work/once.log"
ok $? "next pass: the cleared project syncs, the others have nothing to do" || sed 's/^/# /' "$work/once.log"

# Add two, modify one, delete one.
control images '{"add": {"project": 42, "count": 2, "dataset": 8}, "modify": [1000001], "delete": [1000002]}' >/dev/null
"$embsync" once -c "$work/s.ini" 2>"$work/once.log"
grep -q "collection 42: 3 embedded, 1 deleted" "$work/once.log"
ok $? "added and modified images embedded, the deleted one removed, in one run" || sed 's/^/# /' "$work/once.log"
check "
i = I['1000002']; assert i['disabled'] and i['embeddingsUpdatedAt'] is None, i
m = I['1000001']; assert m['embeddingsUpdatedAt'] > m['updatedAt'].replace('Z', '000Z'), m
assert all(v['embeddingsUpdatedAt'] for k, v in imgs(42).items() if k != '1000002')
"
ok $? "stamps: now for the stored, null for the removed"
[ "$(stored 42)" -eq 13 ]
ok $? "the store holds 13 vectors for project 42"

# Transient faults are retried; a download that keeps failing leaves its
# image unstamped while the rest of its batch is stored.
control images '{"add": {"project": 42, "count": 3}}' >/dev/null
control faults '{"add": [{"match": "images.embeddings-updated-at.update", "status": 503, "remaining": 2},
                         {"match": "images.list", "status": 429, "retry_after": 1, "remaining": 1}]}' >/dev/null
"$embsync" once -c "$work/s.ini" 2>"$work/once.log"
[ $? -eq 0 ] && grep -q "collection 42: 3 embedded" "$work/once.log"
ok $? "503s and a 429 with Retry-After are retried to success" || sed 's/^/# /' "$work/once.log"
new=$(control images '{"add": {"project": 42, "count": 2}}' | "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)["added"][0])')
control faults "{\"add\": [{\"match\": \"previews\", \"status\": 500, \"remaining\": 1000}]}" >/dev/null
"$embsync" once -c "$work/s.ini" 2>"$work/once.log"
control faults '{"clear": true}' >/dev/null
check "
assert I['$new']['embeddingsUpdatedAt'] is None
assert not P['42']['embeddingsInProgress'] and 'embeddings_update_started_at' not in P['42']['customData']
"
ok $? "images that cannot be downloaded stay unstamped; project flags are clean"
"$embsync" status -c "$work/s.ini" | grep -q "failed: *2 in the ledger"
ok $? "they wait in the failed-items ledger"
sleep 2 # the ledger's first back-off, scaled down by EMBSYNC_RETRY_SCALE
"$embsync" once -c "$work/s.ini" 2>"$work/once.log"
check "assert all(v['embeddingsUpdatedAt'] for k, v in imgs(42).items() if not v['disabled'])"
ok $? "they are embedded on a later run"

# A run killed in the middle of a project is resumed by the next one.
control images '{"add": {"project": 47, "count": 600}}' >/dev/null
"$embsync" once -c "$work/s.ini" 2>"$work/once.log" &
pid=$!
for _ in $(seq 1 300); do
    state
    "$PYTHON3" -c "
import json; S = json.load(open('$work/state.json'))
done = sum(1 for v in S['images'].values() if v['projectId'] == 47 and v['embeddingsUpdatedAt'])
raise SystemExit(0 if done > 420 else 1)" && break
    sleep 0.05
done
kill -9 $pid 2>/dev/null
ok $? "kill -9 in the middle of project 47"
wait $pid 2>/dev/null
check "assert P['47']['embeddingsInProgress'] is True"
ok $? "the killed run left the project in progress"
"$embsync" once -c "$work/s.ini" 2>"$work/once.log"
grep -q "project 47: resuming our run cut short" "$work/once.log" && [ "$(stored 47)" -eq 1000 ]
ok $? "the next run takes it back and completes it" || sed 's/^/# /' "$work/once.log"
check "
p = P['47']; assert not p['embeddingsInProgress'] and 'embeddings_update_started_at' not in p['customData']
assert all(v['embeddingsUpdatedAt'] for v in imgs(47).values())
"
ok $? "all of its images are stamped and its flags are clean"
! grep -q "$token" "$work/once.log"
ok $? "the API token never reaches a log line"
state
"$PYTHON3" -c "
import json; S = json.load(open('$work/state.json'))
assert 0 < S['max_stamp_batch'] <= 50, S['max_stamp_batch']"
ok $? "image stamps go out in batches of at most 50, as the original sends them"

done_testing
