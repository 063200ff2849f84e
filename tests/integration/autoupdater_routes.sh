#!/bin/sh
# The original Auto-Updater's routes (docs/MIGRATING.md, section 4) served by `embsync run` on autoupdater_listen, against the
# Supervisely, CLIP and Qdrant emulators and a Generator stand-in: every
# route's status and exact body, the token rule and its explicit opt-out,
# progress during a slow run, a stop of the project in flight, degraded
# health when a backend is down.
set -u
. "$top_srcdir/tests/integration/tap.sh"
. "$top_srcdir/tests/emulators/emulator.sh"

work=$(mktemp -d)
pid=""
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    stop_emulators
    rm -rf "$work"
}
trap cleanup EXIT
embsync="$top_builddir/embsync"
export EMBSYNC_RETRY_SCALE=0.02
free_port() {
    "$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

cat >"$work/fixture.json" <<'JSON'
{"teams": [{"id": 3, "name": "Vision", "plan": "pro"}],
 "projects": [{"id": 41, "name": "small", "teamId": 3, "images": 3},
              {"id": 42, "name": "big", "teamId": 3, "images": 300, "datasets": [7, 8]}]}
JSON
sly_token="sly-api-token-$(date +%s)"
start_emulator sly "$top_srcdir/tests/emulators/supervisely/supervisely_emulator.py" \
    --token "$sly_token" --fixture "$work/fixture.json"
start_emulator clip "$top_srcdir/tests/emulators/clip/clip_emulator.py" --dim 64 \
    --batch-cost-ms 150
start_emulator qd "$top_srcdir/tests/emulators/qdrant/qdrant_emulator.py" --api-key qd-key-123456
start_emulator gen "$top_srcdir/tests/integration/generator_standin.py" \
    --down-file "$work/generator-down" --body-file "$work/generator-body"
printf '%s\n' "$sly_token" >"$work/sly-token"
printf 'qd-key-123456\n' >"$work/qd-key"
secret="control-Secret-$(date +%s)-token"
printf '%s\n' "$secret" >"$work/token"
cport=$(free_port)
aport=$(free_port)
write_ini() { # $1 = extra [core] lines
    cat >"$work/embsync.ini" <<INI
[core]
interval = 1440
state_dir = $work/state
plugin_path = $top_builddir/plugins
batch_size = 8
listen = 127.0.0.1:$cport
log_level = debug
$1
[source]
plugin = supervisely
server = http://127.0.0.1:$sly_port
token_file = $work/sly-token
page_size = 50
generator_url = http://127.0.0.1:$gen_port
[embedder]
plugin = clip
url = http://127.0.0.1:$clip_port
batch_size = 8
[store]
plugin = qdrant
url = http://127.0.0.1:$qd_port
api_key_file = $work/qd-key
INI
}
au="http://127.0.0.1:$aport"
ctl="http://127.0.0.1:$cport"
auth="Authorization: Bearer $secret"
# call METHOD PATH [BODY]: the answer's status in $code, its body in $work/body.
call() {
    if [ $# -ge 3 ]; then
        code=$(curl -s -o "$work/body" -w '%{http_code}' -X "$1" -H "$auth" \
            -H 'Content-Type: application/json' --data-binary "$3" "$au$2")
    else
        code=$(curl -s -o "$work/body" -w '%{http_code}' -X "$1" -H "$auth" "$au$2")
    fi
}
# expect STATUS PYTHON: the status, then assertions over the body (B).
expect() {
    [ "$code" = "$1" ] || { echo "# status $code, expected $1: $(cat "$work/body")"; return 1; }
    "$PYTHON3" - "$work/body" "$2" <<'PY' >"$work/expect.out" 2>&1
import json, re, sys
B = json.load(open(sys.argv[1]))
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
exec(sys.argv[2])
PY
    rc=$?
    [ $rc -eq 0 ] || { sed 's/^/# /' "$work/expect.out"; echo "# body: $(cat "$work/body")"; }
    return $rc
}
keep() { cp "$work/body" "$work/rec-$1.json"; } # an answer for the record
sly_state() { curl -s "http://127.0.0.1:$sly_port/__emulator/state" >"$work/sly.json"; }
stamped() { # images of project $1 with an embeddings stamp
    sly_state
    "$PYTHON3" -c "
import json; S = json.load(open('$work/sly.json'))
print(sum(1 for v in S['images'].values() if v['projectId'] == $1 and v['embeddingsUpdatedAt']))"
}
start_daemon() {
    "$embsync" run -c "$work/embsync.ini" 2>"$work/daemon.log" &
    pid=$!
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "$au/livez" && return 0
        sleep 0.1
    done
    return 1
}
stop_daemon() { # SIGTERM; the daemon must exit 0 (under ASan: no leak)
    kill -TERM "$pid"
    wait "$pid"
    _rc=$?
    pid=""
    ok $_rc "SIGTERM: embsync run exits 0" || sed 's/^/# /' "$work/daemon.log" | tail -20
}

# ---- without autoupdater_without_token: the control token on every route --
write_ini "control_token_file = $work/token
autoupdater_listen = 127.0.0.1:$aport"
start_daemon
ok $? "embsync run serves the original routes on autoupdater_listen" || sed 's/^/# /' "$work/daemon.log"

# The first pass: project 41 (3 images), then 42 (300, slow CLIP).
running=no
for _ in $(seq 1 300); do
    call POST /processing_progress '{"state": {"project_id": 42}}'
    grep -q '"status":"processing"' "$work/body" && grep -q '"current":[1-9]' "$work/body" &&
        { running=yes; break; }
    sleep 0.05
done
[ $running = yes ]
ok $? "project 42's run is in flight and has stored a batch"
expect 200 "
p = B['progress']
assert set(B) == {'progress'} and set(p) == {'project_id', 'total', 'current', 'status'}, B
assert p['project_id'] == 42 and p['status'] == 'processing', p
assert all(type(p[k]) is int for k in ('project_id', 'total', 'current')), p
assert 0 < p['current'] < 300 and (p['total'] == 0 or p['total'] >= p['current']), p
"
ok $? "POST /processing_progress for the project in flight: 200, its progress, status processing"
expect 200 "
assert B['progress']['total'] == 300, B
"
ok $? "the run in flight reports the project's 300 images as its total"
keep progress-in-flight

for route in "GET /health" "POST /processing_progress" "POST /stop-embeddings-update/42" \
    "GET /livez" "POST /is_running"; do
    set -- $route
    c=$(curl -s -o "$work/body" -w '%{http_code}' -X "$1" "$au$2")
    [ "$c" = 401 ] && grep -q '"detail":"missing or wrong Authorization: Bearer token"' "$work/body" ||
        { echo "# $route: $c $(cat "$work/body")"; false; } || break
done
ok $? "without the token every original route answers 401 {\"detail\": ...}"
c=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer wrong-$secret" "$au/livez")
[ "$c" = 401 ]
ok $? "a wrong token is refused too"

call POST /processing_progress '{"state": {"project_id": 41}}'
expect 200 "assert B == {'message': 'No processing progress found for project 41', 'progress': None}, B"
ok $? "POST /processing_progress for another project: 200, message, progress null"
keep progress-other
call POST /processing_progress '{"state": {"project_id": null}}'
expect 200 "
assert set(B) == {'message', 'progress'} and B['progress'] is None, B
assert B['message'].startswith('Project ID is not specified.'), B
"
ok $? "POST /processing_progress with project_id null: 200, 'Project ID is not specified.', progress null"
keep progress-null
call POST /processing_progress '{"state": {}}'
expect 200 "assert B['progress'] is None and B['message'].startswith('Project ID is not specified.'), B"
ok $? "POST /processing_progress without project_id reads as null"
call POST /processing_progress '{"state": {"project_id": "42"}}'
expect 200 "assert B == {'message': 'No processing progress found for project 42', 'progress': None}, B"
ok $? "POST /processing_progress with the id as a text: not the project in flight (the original compares it as is)"
call POST /processing_progress '{"state": {"project_id": 1e300}}'
expect 200 "assert B['progress'] is None and B['message'].startswith('No processing progress found for project '), B"
ok $? "POST /processing_progress with an id out of range: no progress, no crash"
call POST /processing_progress '{}'
expect 500 "assert set(B) == {'message'} and type(B['message']) is str and B['message'], B"
ok $? "POST /processing_progress without state: 500 {\"message\": ...}"
keep progress-no-state
call POST /processing_progress 'not json'
expect 500 "assert set(B) == {'message'}, B"
ok $? "POST /processing_progress with a body that is not JSON: 500 {\"message\": ...}"

call GET /health
expect 200 "
assert set(B) == {'status', 'checks', 'timestamp'}, B
assert B['status'] == 'healthy', B
assert B['checks'] == {'qdrant': 'healthy', 'clip': 'healthy', 'generator': 'healthy',
                       'scheduler': 'healthy'}, B
assert TS.match(B['timestamp']), B
"
ok $? "GET /health during a run: 200 healthy, the four checks, a microsecond UTC timestamp"
keep health-healthy

call POST /stop-embeddings-update/41
expect 200 "
assert B == {'project_id': 41, 'is_current_task': False, 'success': True,
             'message': B['message'], 'details': {}}, B
assert 'not being processed' in B['message'], B
"
ok $? "POST /stop-embeddings-update for a project not running: 200, is_current_task false, details {}"
keep stop-not-running
grep -q "project 41: stopped" "$work/daemon.log"
[ $? -ne 0 ]
ok $? "... and nothing was stopped"

before=$(stamped 42)
call POST /stop-embeddings-update/42
keep stop-running
expect 200 "
assert B == {'project_id': 42, 'is_current_task': True, 'success': True,
             'message': 'Stopped auto update task successfully',
             'details': {'cancel_task': 'success', 'clear_current_task': 'success',
                         'clear_in_progress_flag': 'success', 'clear_update_flag': 'success',
                         'clear_autorestart': 'success'}}, B
"
ok $? "POST /stop-embeddings-update for the project in flight: 200, every step success"
sly_state
"$PYTHON3" - "$work/sly.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))["projects"]["42"]
assert p["embeddingsInProgress"] is False, p
assert "embeddings_update_started_at" not in p["customData"], p["customData"]
assert p["embeddingsUpdatedAt"] is None, p  # the stopped run did not finish
PY
ok $? "project 42: in-progress flag false, custom-data stamp removed, project stamp not moved"
after=$(stamped 42)
sleep 1
[ "$(stamped 42)" = "$after" ] && [ "$after" -lt 300 ]
ok $? "the run stopped at once: no image stamped after the answer ($before before, $after after)"
[ ! -s "$work/state/inflight" ] || ! grep -q '^42' "$work/state/inflight"
ok $? "the in-flight record does not name project 42 (no resume on restart)"

call POST /processing_progress '{"state": {"project_id": 42}}'
expect 200 "
p = B['progress']
assert p['project_id'] == 42 and p['status'] == 'error' and p['current'] == $after, B
"
ok $? "after the stop, /processing_progress keeps the last run: status error, current $after"
keep progress-stopped

# A pass with nothing to stop it: 42 completes, and stays the last one.
curl -s -o /dev/null -X POST -H "$auth" "$ctl/run"
for _ in $(seq 1 1200); do
    call POST /processing_progress '{"state": {"project_id": 42}}'
    grep -q '"status":"completed"' "$work/body" && break
    sleep 0.05
done
expect 200 "
assert set(B) == {'progress'}, B
p = B['progress']
assert p == {'project_id': 42, 'total': p['total'], 'current': 300 - $after,
             'status': 'completed'}, p
assert p['total'] in (0, 300 - $after), p
"
ok $? "the next run completes: 200, status completed, current = the $((300 - after)) images left"
expect 200 "
assert B['progress']['total'] == 300 - $after, B
"
ok $? "the completed run's total is what it emitted: the $((300 - after)) images left"
keep progress-completed
[ "$(stamped 42)" = 300 ]
ok $? "every image of project 42 is stamped"
call POST /processing_progress '{"state": {"project_id": 41}}'
expect 200 "assert B == {'message': 'No processing progress found for project 41', 'progress': None}, B"
ok $? "project 41, which ran before 42 in that pass, has no progress any more"

# A stop whose end of run cannot clear the in-progress flag: 400.
sly_ctl() { curl -s -X POST "http://127.0.0.1:$sly_port/__emulator/$1" -d "$2" >/dev/null; }
sly_ctl images '{"add": {"project": 42, "count": 120, "dataset": 7}}'
curl -s -o /dev/null -X POST -H "$auth" "$ctl/run"
running=no
for _ in $(seq 1 300); do
    call POST /processing_progress '{"state": {"project_id": 42}}'
    grep -q '"status":"processing"' "$work/body" && grep -q '"current":[1-9]' "$work/body" &&
        { running=yes; break; }
    sleep 0.05
done
sly_ctl faults '{"add": [{"match": "^projects.embeddings-in-progress.update$", "status": 400, "remaining": 3}]}'
call POST /stop-embeddings-update/42
keep stop-flag-not-cleared
sly_ctl faults '{"clear": true}'
expect 400 "
assert B == {'project_id': 42, 'is_current_task': True, 'success': False,
             'message': B['message'],
             'details': {'cancel_task': 'success', 'clear_current_task': 'success',
                         'clear_in_progress_flag': 'failed', 'clear_update_flag': 'failed',
                         'clear_autorestart': 'success'}}, B
assert 'in-progress flag failed' in B['message'], B
"
ok $? "POST /stop-embeddings-update when the in-progress flag cannot be cleared: 400, success false, those steps failed (was running: $running)"
sly_state
"$PYTHON3" -c "
import json; p = json.load(open('$work/sly.json'))['projects']['42']
assert p['embeddingsInProgress'] is True, p"
ok $? "... and indeed project 42 is still marked in progress"

# ---- probes, unknown routes, wrong methods ---------------------------------
probes_ok=0
for probe in "GET /livez alive" "GET /is_alive alive" "GET /readyz ready" \
    "GET /is_ready ready" "POST /is_ready ready"; do
    set -- $probe
    call "$1" "$2"
    expect 200 "assert B == {'status': '$3'}, B" || { echo "# $probe"; probes_ok=1; }
done
ok $probes_ok "GET /livez, /is_alive: {\"status\": \"alive\"}; GET /readyz, GET|POST /is_ready: {\"status\": \"ready\"}"
call POST /is_running
expect 200 "assert B == {'running': True, 'mode': 'production'}, B"
ok $? "POST /is_running: {\"running\": true, \"mode\": \"production\"}"
call GET /nothing
expect 404 "assert B == {'detail': 'Not Found'}, B"
ok $? "an unknown route: 404 {\"detail\": \"Not Found\"}"
call POST /health
r1=$code
call GET /stop-embeddings-update/42
r2=$code
call GET /is_running
[ "$r1" = 405 ] && [ "$r2" = 405 ] && expect 405 "assert B == {'detail': 'Method Not Allowed'}, B"
ok $? "a wrong method: 405 {\"detail\": \"Method Not Allowed\"}"
call POST /stop-embeddings-update/abc
expect 422 "
d = B['detail'][0]
assert d['loc'] == ['path', 'project_id'] and d['type'] == 'int_parsing' and d['input'] == 'abc', B
"
ok $? "POST /stop-embeddings-update/abc: 422, as a path parameter that is not an integer"
keep stop-not-an-integer

# ---- degraded health ---------------------------------------------------------
curl -s -X POST "http://127.0.0.1:$qd_port/__emulator/faults" \
    -d '{"add": [{"method": "GET", "path": "^/readyz$", "status": 503, "remaining": 1000}]}' >/dev/null
call GET /health
keep health-degraded
expect 503 "
assert set(B) == {'status', 'checks', 'timestamp'} and B['status'] == 'degraded', B
c = B['checks']
assert set(c) == {'qdrant', 'clip', 'generator', 'scheduler'}, c
assert c['qdrant'].startswith('unhealthy: ') and len(c['qdrant']) > len('unhealthy: '), c
assert c['clip'] == c['generator'] == c['scheduler'] == 'healthy', c
assert TS.match(B['timestamp']), B
"
ok $? "Qdrant not ready: GET /health 503 degraded, checks.qdrant 'unhealthy: <reason>'"
curl -s -X POST "http://127.0.0.1:$qd_port/__emulator/faults" -d '{"clear": true}' >/dev/null
touch "$work/generator-down"
call GET /health
expect 503 "
assert B['status'] == 'degraded', B
assert B['checks']['generator'] == 'unhealthy: /is_ready answered HTTP 503', B
assert B['checks']['qdrant'] == B['checks']['clip'] == 'healthy', B
"
ok $? "Generator not ready: GET /health 503, checks.generator 'unhealthy: /is_ready answered HTTP 503'"
keep health-generator-down
code=$(curl -s -o "$work/body" -w '%{http_code}' -H "$auth" "$ctl/health")
expect 503 "
g = B['generator']
assert g['status'] == 'down' and g['url'] == 'http://127.0.0.1:$gen_port', g
assert 'generator is down: /is_ready answered HTTP 503' in B['reasons'], B
assert B['status'] == 'degraded' and 'plugins' in B and 'scheduler' in B, B
"
ok $? "embsync's own GET /health keeps its shape and shows the Generator down"
rm -f "$work/generator-down"
printf '{"status": "starting"}' >"$work/generator-body"
call GET /health
expect 503 "assert B['checks']['generator'] == 'unhealthy: /is_ready answered a status other than \"ready\"', B"
ok $? "Generator answering another status: checks.generator names it"
printf 'oops' >"$work/generator-body"
call GET /health
expect 503 "assert B['checks']['generator'] == 'unhealthy: /is_ready answered a body that is not JSON', B"
ok $? "Generator answering a body that is not JSON: checks.generator names it"
rm -f "$work/generator-body"
code=$(curl -s -o "$work/body" -w '%{http_code}' -H "$auth" "$ctl/health")
expect 200 "assert B['generator'] == {'url': 'http://127.0.0.1:$gen_port', 'status': 'up'}, B"
ok $? "... and up again once it is ready"
kill "$gen_pid"
wait "$gen_pid" 2>/dev/null
call GET /health
expect 503 "
g = B['checks']['generator']
assert B['status'] == 'degraded' and g.startswith('unhealthy: ') and len(g) > 20, B
"
ok $? "Generator unreachable: GET /health 503, checks.generator 'unhealthy: <transport error>'"
keep health-generator-unreachable
stop_daemon

# ---- the explicit opt-out: no token, and a warning ----------------------------
write_ini "control_token_file = $work/token
autoupdater_listen = 127.0.0.1:$aport
autoupdater_without_token = yes"
start_daemon
c1=$(curl -s -o "$work/body" -w '%{http_code}' "$au/livez")
c2=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"state": {"project_id": 41}}' "$au/processing_progress")
c3=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$ctl/run")
[ "$c1" = 200 ] && [ "$c2" = 200 ] && [ "$c3" = 401 ]
ok $? "autoupdater_without_token = yes: the original routes answer without a token, the control port still needs it"
grep -q "warning .*served WITHOUT a token (autoupdater_without_token = yes)" "$work/daemon.log"
ok $? "... and the daemon says so in its log at start" || sed 's/^/# /' "$work/daemon.log" | head -5
stop_daemon

# ---- no token and no opt-out: refused at start ---------------------------------
write_ini "autoupdater_listen = 127.0.0.1:$aport"
"$embsync" run -c "$work/embsync.ini" 2>"$work/refused.log" &
pid=$!
rc=0
for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid"; rc=$?; break; }
    sleep 0.1
done
pid=""
[ $rc -ne 0 ] && grep -q "autoupdater_listen = 127.0.0.1:$aport: set control_token" "$work/refused.log"
ok $? "autoupdater_listen without a token or the opt-out: the daemon refuses to start and says why" ||
    sed 's/^/# /' "$work/refused.log" | tail -3

! grep -qF -e "$secret" -e "$sly_token" "$work/daemon.log" "$work/refused.log"
ok $? "neither token reaches a log line"

# The answers as served, for the record.
for f in "$work"/rec-*.json; do
    n=$(basename "$f" .json)
    echo "# ${n#rec-}: $(cat "$f")"
done
done_testing
