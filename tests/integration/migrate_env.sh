#!/bin/sh
# conf/supervisely.ini run from the original Auto-Updater container's
# environment variables as they are (docs/MIGRATING.md), against the
# Supervisely, CLIP and Qdrant emulators and a Generator stand-in: each
# variable reaches the key it maps to, and the optional ones may be unset or
# empty.
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
aport=$("$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# Project 45 was left in progress two hours ago by a run nobody holds.
two_hours_ago=$("$PYTHON3" -c '
import datetime
t = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=2)
print(t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))')
cat >"$work/fixture.json" <<JSON
{"teams": [{"id": 3, "name": "Vision", "plan": "pro"}],
 "projects": [{"id": 42, "name": "cars", "teamId": 3, "images": 6, "datasets": [7, 8]},
              {"id": 45, "name": "stuck", "teamId": 3, "images": 2, "embeddingsInProgress": true,
               "customData": {"embeddings_update_started_at": "$two_hours_ago"}}]}
JSON
sly_token="sly-api-token-$(date +%s)"
access_token="sly-access-token-$(date +%s)"
clip_auth="Bearer clip-Secret-$(date +%s)"
start_emulator sly "$top_srcdir/tests/emulators/supervisely/supervisely_emulator.py" \
    --token "$sly_token" --access-token "$access_token" --fixture "$work/fixture.json"
start_emulator clip "$top_srcdir/tests/emulators/clip/clip_emulator.py" --dim 64 --auth "$clip_auth"
start_emulator clip_open "$top_srcdir/tests/emulators/clip/clip_emulator.py" --dim 64
start_emulator qd "$top_srcdir/tests/emulators/qdrant/qdrant_emulator.py"
start_emulator gen "$top_srcdir/tests/integration/generator_standin.py" \
    --down-file "$work/generator-down" --record "$work/generator.jsonl"

# The shipped file, with only what a test cannot use rewritten: the state
# and plugin directories, the autorestart record's path, and the listen
# address (30303 may be taken).
# The source's autorestart_file is kept when the plugin declares it.
ini="$work/supervisely.ini"
sed -e "s|^state_dir = .*|state_dir = $work/state|" \
    -e "s|^autoupdater_listen = .*|autoupdater_listen = 127.0.0.1:$aport|" \
    -e "s|^autorestart_file = .*|autorestart_file = $work/run/state/current_project.json|" \
    -e "s|^\[core\]|[core]\nplugin_path = $top_builddir/plugins|" \
    "$top_srcdir/conf/supervisely.ini" >"$ini"
mkdir -p "$work/run/state"
cd "$work/run" || exit 1
# The original container's environment.
export SERVER_ADDRESS="http://127.0.0.1:$sly_port"
export SUPERVISELY_API_SERVER_ADDRESS="http://127.0.0.1:$sly_port/public/api"
export API_TOKEN="$sly_token"
export QDRANT_HOST="http://127.0.0.1:$qd_port"
export CLIP_HOST="http://127.0.0.1:$clip_port"
export CLIP_AUTH_TOKEN="$clip_auth"
export GENERATOR_HOST="http://127.0.0.1:$gen_port"
export IMGPROXY_ADDRESS="http://localhost:$sly_port/previews/"
export IMGPROXY_CONCURRENCY=3
export UPDATE_INTERVAL=7
export LOG_LEVEL=DEBUG
unset UPDATE_FRAME SUPERVISELY_API_ACCESS_TOKEN

"$embsync" plugins -c "$ini" >"$work/plugins.out" 2>&1
ok $? "embsync plugins loads conf/supervisely.ini from the environment" || sed 's/^/# /' "$work/plugins.out"
if ! grep -q '^ *autorestart_file ' "$work/plugins.out"; then
    echo "# this build's supervisely source has no autorestart_file: line left out"
    sed -i '/^autorestart_file = /d' "$ini"
fi
"$embsync" check -c "$ini" >"$work/check.out" 2>&1
ok $? "embsync check: every plugin opens with the values from the environment" ||
    sed 's/^/# /' "$work/check.out" | tail -5

CLIP_AUTH_TOKEN= "$embsync" check -c "$ini" >"$work/check.out" 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q "clip: .*-> 401" "$work/check.out"
ok $? "CLIP_AUTH_TOKEN reaches the clip plugin's auth (empty: CLIP answers 401)" ||
    sed 's/^/# /' "$work/check.out" | tail -3
IMGPROXY_CONCURRENCY=0 "$embsync" check -c "$ini" >"$work/check.out" 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q "download_concurrency ≥ 1" "$work/check.out"
ok $? "IMGPROXY_CONCURRENCY reaches download_concurrency (0 is refused by name)" ||
    sed 's/^/# /' "$work/check.out" | tail -3

"$embsync" once -c "$ini" 2>"$work/once.log"
ok $? "embsync once syncs with the environment's settings" || sed 's/^/# /' "$work/once.log" | tail -10
grep -q " debug " "$work/once.log"
ok $? "LOG_LEVEL=DEBUG: debug lines are logged"
curl -s "http://127.0.0.1:$qd_port/__emulator/state" >"$work/qd.json"
"$PYTHON3" - "$work/qd.json" "$IMGPROXY_ADDRESS" <<'PY'
import json, sys
cols = json.load(open(sys.argv[1]))["collections"]
assert set(cols) == {"42"}, sorted(cols)      # bare project id, no prefix
c = cols["42"]
assert c["size"] == 64 and c["distance"] == "Cosine", c
assert len(c["points"]) == 6, len(c["points"])
base = sys.argv[2].rstrip("/")
for pid, p in c["points"].items():
    url = p["payload"]["cas_url"]
    assert url.startswith(base + "/q/ext:jpeg/resize:fit:224:224:0/q:70/plain/"), url
PY
ok $? "QDRANT_HOST holds collection 42 with its 6 images; IMGPROXY_ADDRESS built every cas_url"
curl -s "http://127.0.0.1:$sly_port/__emulator/state" >"$work/sly.json"
"$PYTHON3" - "$work/sly.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))["projects"]["45"]
assert p["embeddingsInProgress"] is True, p
PY
ok $? "UPDATE_FRAME unset: the default 12 h keeps project 45 (2 h) in progress"

UPDATE_FRAME=1 "$embsync" once -c "$ini" 2>"$work/once.log"
curl -s "http://127.0.0.1:$sly_port/__emulator/state" >"$work/sly.json"
"$PYTHON3" - "$work/sly.json" "$work/generator.jsonl" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))["projects"]["45"]
assert p["embeddingsInProgress"] is False, p
assert "embeddings_update_started_at" not in p["customData"], p
calls = [json.loads(l) for l in open(sys.argv[2])]
assert {"route": "/task_status", "body": {"state": {"project_id": 45}}} in calls, calls
PY
ok $? "UPDATE_FRAME=1: project 45 counts as stale; GENERATOR_HOST is asked for its task first" ||
    sed 's/^/# /' "$work/once.log" | tail -5

# The access-token bootstrap: an empty API_TOKEN counts as unset.
API_TOKEN= SUPERVISELY_API_ACCESS_TOKEN="$access_token" "$embsync" check -c "$ini" \
    >"$work/check.out" 2>&1
ok $? "API_TOKEN empty, SUPERVISELY_API_ACCESS_TOKEN set: the token is fetched at start" ||
    sed 's/^/# /' "$work/check.out" | tail -3
curl -s "http://127.0.0.1:$sly_port/__emulator/state" >"$work/sly.json"
"$PYTHON3" -c "
import json; S = json.load(open('$work/sly.json'))
assert S['counts'].get('instance.admin-info', 0) >= 1, S['counts']"
ok $? "... through instance.admin-info"

# Only the variables without a default set: the optional ones may be absent.
env -u CLIP_AUTH_TOKEN -u GENERATOR_HOST -u IMGPROXY_ADDRESS -u IMGPROXY_CONCURRENCY \
    -u UPDATE_INTERVAL -u UPDATE_FRAME -u LOG_LEVEL -u SUPERVISELY_API_SERVER_ADDRESS \
    CLIP_HOST="http://127.0.0.1:$clip_open_port" "$embsync" check -c "$ini" >"$work/check.out" 2>&1
ok $? "SERVER_ADDRESS, API_TOKEN, QDRANT_HOST and CLIP_HOST alone are enough" ||
    sed 's/^/# /' "$work/check.out" | tail -3
env -u SERVER_ADDRESS -u SUPERVISELY_API_SERVER_ADDRESS "$embsync" check -c "$ini" \
    >"$work/check.out" 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q "\[source\] server: environment variable SUPERVISELY_API_SERVER_ADDRESS is not set" "$work/check.out"
ok $? "with no instance address at all, the error names the variable" ||
    sed 's/^/# /' "$work/check.out" | tail -3

# The daemon: UPDATE_INTERVAL and the original's routes, token-free.
"$embsync" run -c "$ini" 2>"$work/daemon.log" &
pid=$!
code=000
for _ in $(seq 1 100); do
    code=$(curl -s -o "$work/body" -w '%{http_code}' "http://127.0.0.1:$aport/health")
    [ "$code" = 200 ] && break
    sleep 0.1
done
[ "$code" = 200 ] && "$PYTHON3" -c "
import json; B = json.load(open('$work/body'))
assert B['checks'] == {'qdrant': 'healthy', 'clip': 'healthy', 'generator': 'healthy', 'scheduler': 'healthy'}, B"
ok $? "embsync run: GET /health on autoupdater_listen without a token, the generator check from GENERATOR_HOST" ||
    { echo "# $code $(cat "$work/body")"; sed 's/^/# /' "$work/daemon.log" | tail -5; }
grep -q "a pass every 7 minute(s)" "$work/daemon.log" &&
    grep -q "warning .*served WITHOUT a token" "$work/daemon.log"
ok $? "UPDATE_INTERVAL=7 sets the interval; the token-free routes are warned about"
kill -TERM "$pid"
wait "$pid"
ok $? "SIGTERM: embsync run exits 0" || sed 's/^/# /' "$work/daemon.log" | tail -20
pid=""

! grep -qF -e "$sly_token" -e "$access_token" -e "${clip_auth#Bearer }" \
    "$work/once.log" "$work/daemon.log" "$work/check.out"
ok $? "no token from the environment reaches a log line"
done_testing
