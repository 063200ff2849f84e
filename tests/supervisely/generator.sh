#!/bin/sh
# The supervisely source with the Embeddings Generator as a party
# (supervisely-ai-search.md, section 2), against the Generator emulator:
# the stale in-progress check asks /task_status and calls
# /cancel_embeddings when it clears a project, with the exact bodies; a
# project the Generator holds (task running) is never touched, stale or
# not, ours or not; check() includes its /is_ready.
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
start_emulator sly "$top_srcdir/tests/emulators/supervisely/supervisely_emulator.py" \
    --token "$token" --fixture "$top_srcdir/tests/supervisely/generator.json"
base="http://127.0.0.1:$sly_port"
start_emulator gen "$top_srcdir/tests/emulators/generator/generator_emulator.py" \
    --running 50,53,55 --supervisely "$base" --token "$token"
gen="http://127.0.0.1:$gen_port"
gen_control() { curl -s -X POST "$gen/__emulator/$1" -d "$2" >/dev/null; }
gen_log() { curl -s "$gen/__emulator/state" >"$work/gen.json"; }
cat >"$ini" <<INI
[core]
state_dir = $work/state
plugin_path = $top_builddir/plugins
[source]
plugin = supervisely
server = $base
token_file = $work/token
generator_url = $gen/
stale_after = 12
[embedder]
plugin = descriptor
[store]
plugin = faiss-local
INI

# The emulator itself, against section 2 of the reference.
"$PYTHON3" - "$gen" <<'PY' >"$work/contract.out" 2>&1
import json, sys, urllib.request, urllib.error
base = sys.argv[1]
def call(method, route, body=None):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(base + route, data, {"Content-Type": "application/json"}, method=method)
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
assert call("GET", "/is_ready") == (200, {"status": "ready"})
st, body = call("POST", "/task_status", {"state": {"project_id": 50}})
assert st == 200 and body["status"] == "running" and body["is_running"] is True, body
assert sorted(body) == ["is_running", "message", "status"] and isinstance(body["message"], str)
st, body = call("POST", "/task_status", {"state": {"project_id": 54}})
assert st == 200 and body["status"] == "no_task" and body["is_running"] is False, body
for bad in (b"", {"project_id": 50}, {"state": {}}, {"state": {"project_id": "x"}}):
    st, body = call("POST", "/task_status", bad)
    assert st == 500 and list(body) == ["message"], (bad, st, body)
    st, body = call("POST", "/cancel_embeddings", bad)
    assert st == 500 and list(body) == ["message"], (bad, st, body)
st, body = call("POST", "/cancel_embeddings", {"state": {"project_id": 54}})
assert st == 200 and list(body) == ["message"], body
PY
ok $? "Generator emulator: the three routes answer as section 2 says, 500 {message} on a bad body" ||
    sed 's/^/# /' "$work/contract.out"
curl -s -X POST "$gen/__emulator/log" >/dev/null

"$embsync" once -c "$ini" >"$work/once.log" 2>&1
ok $? "a pass with the Generator set exits 0" || sed 's/^/# /' "$work/once.log"
gen_log
sly_check "
import json
G = json.load(open('$work/gen.json'))
posts = [(e['path'], e['body']) for e in G['log'] if e['method'] == 'POST']
asked = [b['state']['project_id'] for p, b in posts if p == '/task_status']
cancelled = [b['state']['project_id'] for p, b in posts if p == '/cancel_embeddings']
assert all(b == {'state': {'project_id': b['state']['project_id']}} for p, b in posts), posts
assert 50 in asked and 51 in asked and 52 in asked, asked
assert sorted(cancelled) == [51, 52], cancelled
p = P['50']; assert p['embeddingsInProgress'] and 'embeddings_update_started_at' in p['customData'], p
for k in ('51', '52'):
    p = P[k]; assert not p['embeddingsInProgress'] and 'embeddings_update_started_at' not in p['customData'], p
assert P['51']['customData'] == {'keep': 1}, P['51']
assert 53 in asked and not P['53']['embeddingsInProgress'], P['53']
assert all(v['embeddingsUpdatedAt'] is None for v in imgs(53).values())
assert all(v['embeddingsUpdatedAt'] for v in imgs(54).values())
"
ok $? "stale flags: the Generator's running task keeps 50; 51 and 52 cleared after /cancel_embeddings; 53, which it runs, is skipped"

# Once its task completes, 53 is synced like any project.
gen_control tasks '{"53": "completed"}'
"$embsync" once -c "$ini" >"$work/once.log" 2>&1
grep -q "collection 53: 3 embedded" "$work/once.log"
ok $? "a completed Generator task no longer holds the project" || sed 's/^/# /' "$work/once.log"

# Project 55: a run of ours cut short (our in-flight mark is there), that
# the Generator has taken over since: left alone, and our mark dropped.
mkdir -p "$work/state/source-supervisely"
: >"$work/state/source-supervisely/inflight-55"
"$embsync" once -c "$ini" >"$work/once.log" 2>&1
sly_check "
p = P['55']; assert p['embeddingsInProgress'] and p['customData'], p
assert all(v['embeddingsUpdatedAt'] is None for v in imgs(55).values())
" && grep -q "project 55: our cut-short run is now the Generator's task; left alone" "$work/once.log" &&
    [ ! -e "$work/state/source-supervisely/inflight-55" ]
ok $? "our cut-short run that the Generator now holds is left alone" || sed 's/^/# /' "$work/once.log"

# Project 52 again, stale, while the Generator answers task_status with 500:
# as the original, a failing Generator does not hold the flag (nor 50's:
# every task_status fails in this pass).
sly_control projects '{"52": {"embeddingsInProgress": true,
    "customData": {"embeddings_update_started_at": "2020-01-01T00:00:00.000000Z"}}}' >/dev/null
curl -s -X POST "$gen/__emulator/log" >/dev/null
gen_control faults '{"add": [{"match": "task_status", "status": 500, "remaining": 100}]}'
"$embsync" once -c "$ini" >"$work/once.log" 2>&1
gen_control faults '{"clear": true}'
gen_log
sly_check "
import json
G = json.load(open('$work/gen.json'))
cancelled = [e['body']['state']['project_id'] for e in G['log'] if e['path'] == '/cancel_embeddings']
assert 52 in cancelled, cancelled
assert not P['52']['embeddingsInProgress'], P['52']
" && grep -q "project 52: in progress for .* h with no task; clearing" "$work/once.log"
ok $? "a Generator answering 500 counts as no task: the stale flag is cleared, after /cancel_embeddings" ||
    sed 's/^/# /' "$work/once.log"

"$embsync" check -c "$ini" >"$work/check.log" 2>&1
ok $? "embsync check passes while the Generator is ready" || sed 's/^/# /' "$work/check.log"
gen_control ready '{"ready": false}'
"$embsync" check -c "$ini" >"$work/check.log" 2>&1
[ $? -ne 0 ] && grep -q "source *supervisely: .*Generator is_ready" "$work/check.log"
ok $? "embsync check fails, naming the Generator, when it is not ready" || sed 's/^/# /' "$work/check.log"
gen_control ready '{"ready": true}'
gen_log
"$PYTHON3" -c "
import json; G = json.load(open('$work/gen.json'))
assert any(e['method'] == 'GET' and e['path'] == '/is_ready' for e in G['log'])"
ok $? "the check asked GET /is_ready"
done_testing
