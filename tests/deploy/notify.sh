#!/bin/sh
# sd_notify as a Type=notify unit sees it: READY=1 only once the
# configuration is valid and the plugins are open, STATUS= with the pass's
# summary, RELOADING=1 then READY=1 around SIGHUP, STOPPING=1 on SIGTERM;
# a broken configuration exits 2 without READY=1.
set -u
. "$top_srcdir/tests/integration/tap.sh"

work=$(mktemp -d)
pid="" listener=""
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    [ -n "$listener" ] && kill "$listener" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
cp -R "$top_srcdir/samples" "$work/images"
chmod -R u+w "$work/images"
cat >"$work/embsync.ini" <<INI
[core]
interval = 60
state_dir = $work/state
plugin_path = $top_builddir/plugins
[source]
plugin = dir
root = $work/images
[embedder]
plugin = descriptor
[store]
plugin = faiss-local
INI

"$PYTHON3" "$top_srcdir/tests/deploy/notify_listener.py" "$work/notify" \
    "$work/states" &
listener=$!
for _ in $(seq 1 50); do [ -e "$work/notify.ready" ] && break; sleep 0.1; done
NOTIFY_SOCKET=$work/notify
export NOTIFY_SOCKET

wait_for() { # $1 = pattern in the states file, $2 = minimum count
    for _ in $(seq 1 150); do
        n=$(grep -c "$1" "$work/states" 2>/dev/null)
        [ "${n:-0}" -ge "$2" ] && return 0
        sleep 0.1
    done
    return 1
}

"$top_builddir/embsync" run -c "$work/embsync.ini" 2>"$work/daemon.log" &
pid=$!
wait_for '^READY=1$' 1
ok $? "READY=1 once the configuration is loaded and the plugins are open" ||
    sed 's/^/# /' "$work/daemon.log" | tail -20
wait_for '^STATUS=last pass .*: [0-9]* collection(s), 0 failed; [0-9]* embedded' 1
ok $? "STATUS= carries the last pass's one-line summary" ||
    sed 's/^/# /' "$work/states"
n=$(find "$top_srcdir/samples" -mindepth 1 -maxdepth 1 -type d | wc -l)
grep -q "^STATUS=last pass .*: $n collection(s), 0 failed; [1-9][0-9]* embedded, 0 deleted, 0 item(s) failed$" "$work/states"
ok $? "the summary counts this pass's $n collections and what they embedded" ||
    sed 's/^/# /' "$work/states"

kill -HUP "$pid"
wait_for '^RELOADING=1$' 1 && wait_for '^READY=1$' 2
ok $? "SIGHUP: RELOADING=1, then READY=1 again" || sed 's/^/# /' "$work/states"
grep -A1 '^RELOADING=1$' "$work/states" | grep -q '^MONOTONIC_USEC=[0-9][0-9]*$'
ok $? "RELOADING=1 carries MONOTONIC_USEC"

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=""
ok $rc "SIGTERM: exit 0"
wait_for '^STOPPING=1$' 1
ok $? "SIGTERM: STOPPING=1" || sed 's/^/# /' "$work/states"

# A broken configuration: exit 2 and never READY=1.
: >"$work/states"
printf '[core]\ninterval = never\n' >"$work/broken.ini"
"$top_builddir/embsync" run -c "$work/broken.ini" 2>"$work/broken.log"
rc=$?
[ "$rc" -eq 2 ]
ok $? "a broken configuration exits 2 (got $rc), which the unit does not restart"
sleep 0.3
! grep -q '^READY=1$' "$work/states"
ok $? "a broken configuration never says READY=1"

done_testing
