#!/bin/sh
# `embsync run` as a service: control port routes, stop of one collection,
# SIGHUP reload (bad and good), SIGTERM, and a planted secret that must never
# appear in a log line or a response.
set -u
. "$top_srcdir/tests/integration/tap.sh"

work=$(mktemp -d)
pid=""
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
cp -R "$top_srcdir/samples" "$work/images"
chmod -R u+w "$work/images"
port=$("$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
secret="planted-Secret-$(date +%s)-token"
printf '%s\n' "$secret" >"$work/token"
write_ini() { # $1 = interval, $2 = extra core line
    cat >"$work/embsync.ini" <<INI
[core]
interval = $1
state_dir = $work/state
plugin_path = $top_builddir/plugins
batch_size = 1
listen = 127.0.0.1:$port
control_token_file = $work/token
log_level = debug
$2
[source]
plugin = dir
root = $work/images
[embedder]
plugin = descriptor
[store]
plugin = faiss-local
INI
}
write_ini 60 ""
base="http://127.0.0.1:$port"
auth="Authorization: Bearer $secret"
get() { curl -s -o "$work/body" -w '%{http_code}' "$@"; }

"$top_builddir/embsync" run -c "$work/embsync.ini" 2>"$work/daemon.log" &
pid=$!

# Wait for the first pass to finish: /health says ok.
code=000
for _ in $(seq 1 100); do
    code=$(get "$base/health")
    [ "$code" = 200 ] && break
    sleep 0.2
done
[ "$code" = 200 ]
ok $? "GET /health answers 200 once the first pass succeeded" || sed 's/^/# /' "$work/daemon.log" | tail -20
"$PYTHON3" - "$work/body" <<'PY'
import json, sys
h = json.load(open(sys.argv[1]))
assert h["status"] == "ok", h
assert {k: v["status"] for k, v in h["plugins"].items()} == \
    {"source": "up", "embedder": "up", "store": "up"}, h["plugins"]
assert h["scheduler"]["state"] in ("idle", "running")
assert h["scheduler"]["interval_minutes"] == 60
names = sorted(c["name"] for c in h["collections"])
assert names, h
for c in h["collections"]:
    assert c["last_success"] > 0 and c["stale"] is False and c["failed"] == 0, c
PY
ok $? "/health lists the plugins up and every collection synced"

get "$base/metrics" >/dev/null
"$PYTHON3" "$top_srcdir/tests/integration/prom_parse.py" embsync_items_total \
    embsync_build_info embsync_http_requests_total embsync_batch_duration_seconds \
    embsync_last_success_timestamp_seconds embsync_run_duration_seconds \
    embsync_backend_up <"$work/body" >/dev/null 2>"$work/prom.err"
rc=$?
# No HTTP plugin here: the http family may be absent; accept only that.
if [ $rc -ne 0 ] && grep -q "missing families: embsync_http_requests_total$" "$work/prom.err"; then rc=0; fi
ok $rc "GET /metrics is well-formed Prometheus text with the expected families" || sed 's/^/# /' "$work/prom.err"

[ "$(get "$base/progress")" = 200 ] && grep -q '"state":"idle"' "$work/body"
ok $? "GET /progress is idle between passes"
get "$base/metrics" >/dev/null
grep '^embsync_queue_depth{' "$work/body" >"$work/depths"
[ -s "$work/depths" ] && ! grep -qv ' 0$' "$work/depths"
ok $? "between passes every queue depth reads 0" || sed 's/^/# /' "$work/depths"

[ "$(get -X POST "$base/run")" = 401 ]
ok $? "POST /run without the token is refused (401)"
[ "$(get -X POST "$base/collections/nope/stop" -H "$auth")" = 409 ]
ok $? "stopping a collection that is not running answers 409"
[ "$(get "$base/nothing")" = 404 ] && [ "$(get -X DELETE "$base/health")" = 405 ]
ok $? "unknown routes 404, wrong methods 405"

# A long run to stop in the middle: many new files, batch_size 1.
c1=$(cd "$work/images" && ls -d */ | head -n 1 | tr -d /)
mkdir -p "$work/images/$c1/bulk"
for f in $(find "$work/images" -type f -name '*.png' | head -n 10); do
    for k in $(seq 1 60); do cp "$f" "$work/images/$c1/bulk/$(basename "$f" .png)-$k.png"; done
done
[ "$(get -X POST "$base/run" -H "$auth")" = 202 ] && grep -q '"started":true' "$work/body"
ok $? "POST /run with the token starts a pass (202)"
running=no
for _ in $(seq 1 100); do
    get "$base/progress?collection=$c1" >/dev/null
    grep -q '"state":"running"' "$work/body" && { running=yes; break; }
    sleep 0.05
done
[ "$(get -X POST "$base/collections/$c1/stop" -H "$auth")" = 200 ] &&
    grep -q '"stopped":true' "$work/body"
ok $? "POST /collections/$c1/stop stops the run in flight (was running: $running)"
grep -q "collection $c1: run retry" "$work/daemon.log" || grep -q "collection $c1: .* embedded" "$work/daemon.log"
ok $? "the stopped run is logged with what it did"

# SIGHUP with a broken file keeps the running configuration.
cp "$work/embsync.ini" "$work/good.ini"
echo "[core]" >"$work/embsync.ini"; echo "interval = never" >>"$work/embsync.ini"
kill -HUP "$pid"
sleep 1
grep -q "reload failed, keeping the running configuration" "$work/daemon.log" &&
    [ "$(get "$base/health")" = 200 ]
ok $? "SIGHUP with a bad config keeps running the old one and says why"
write_ini 30 ""
kill -HUP "$pid"
# The reload waits for the pass in flight (600 items: seconds under ASan).
for _ in $(seq 1 300); do grep -q "configuration reloaded" "$work/daemon.log" && break; sleep 0.1; done
get "$base/health" >/dev/null
grep -q '"interval_minutes":30' "$work/body"
ok $? "SIGHUP with a good config applies it"

kill -TERM "$pid"
rc=1
for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid"; rc=$?; break; }
    sleep 0.1
done
pid=""
[ $rc -eq 0 ]
ok $? "SIGTERM: the daemon finishes the batch in flight and exits 0"

# After all of that, one more pass converges the store to the folder.
write_ini 30 ""
sed -i '/^listen/d' "$work/embsync.ini"
"$top_builddir/embsync" once -c "$work/embsync.ini" 2>>"$work/daemon.log"
ok $? "a pass after the stop completes"
for c in $(cd "$work/images" && ls -d */ | tr -d /); do
    any=$(find "$work/images/$c" -type f -name '*.png' | head -n 1)
    "$top_builddir/embsync" search -c "$work/embsync.ini" --collection "$c" --image "$any" -k 100000 2>/dev/null |
        "$PYTHON3" "$top_srcdir/tests/integration/store_matches.py" "$work/images/$c" || false
done
ok $? "nothing was half-acknowledged: the store matches the folder"

! grep -rqF "$secret" "$work/daemon.log" "$work/body"
ok $? "the planted token appears in no log line and no response"

done_testing
