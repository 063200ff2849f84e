#!/bin/sh
# `embsync check` probes each backend once, briefly: with one host that
# refuses connections and one that accepts them and never answers, it ends
# in seconds (not after the retry policy's minutes) and names each failed
# backend.  The time bound is a generous ceiling, not a speed target.
set -u
. "$top_srcdir/tests/integration/tap.sh"

work=$(mktemp -d)
hole=""
cleanup() {
    [ -n "$hole" ] && kill "$hole" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
embsync="$top_builddir/embsync"
ceiling=15

# A blackhole: listens (the kernel completes the handshake) but never
# accepts or answers.
"$PYTHON3" -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
print(s.getsockname()[1], flush=True)
time.sleep(3600)
' >"$work/port" &
hole=$!
for _ in $(seq 1 50); do [ -s "$work/port" ] && break; sleep 0.1; done
bh=$(cat "$work/port")
# Nothing listens on a port just released.
refused=$("$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/images"
printf 'k3y-for-the-probe\n' >"$work/key"

run_check() { # $1 = ini; sets rc and took (seconds)
    t0=$(date +%s.%N)
    "$embsync" check -c "$1" >"$work/out" 2>"$work/err"
    rc=$?
    took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
}
within_ceiling() { awk -v t="$took" -v c="$ceiling" 'BEGIN { exit !(t < c) }'; }

cat >"$work/a.ini" <<INI
[core]
state_dir = $work/state
plugin_path = $top_builddir/plugins
[source]
plugin = dir
root = $work/images
[embedder]
plugin = clip
url = http://127.0.0.1:$refused
[store]
plugin = qdrant
url = http://127.0.0.1:$bh
api_key_file = $work/key
INI
run_check "$work/a.ini"
[ $rc -eq 1 ] && within_ceiling
ok $? "check with a refusing and a silent backend ends within ${ceiling} s, exit 1 (took $took s)" ||
    sed 's/^/# /' "$work/out"
grep -q '^source   dir: ok$' "$work/out" &&
    grep -q '^embedder clip: .*cannot open' "$work/out" &&
    grep -q '^store    qdrant: backend not healthy: .*probe' "$work/out" &&
    grep -q '^check: 2 of 3 backends failed: embedder clip, store qdrant$' "$work/out"
ok $? "check names each failed backend and why, and the one that is fine" ||
    sed 's/^/# /' "$work/out"
! grep -q 'retrying in' "$work/err"
ok $? "check makes one attempt per request, no retries" || grep 'retrying' "$work/err" | sed 's/^/# /'

cat >"$work/b.ini" <<INI
[core]
state_dir = $work/state
plugin_path = $top_builddir/plugins
[source]
plugin = supervisely
server = http://127.0.0.1:$bh
token_file = $work/key
[embedder]
plugin = clip
url = http://127.0.0.1:$bh
[store]
plugin = qdrant
url = http://127.0.0.1:$refused
INI
run_check "$work/b.ini"
[ $rc -eq 1 ] && within_ceiling &&
    grep -q '^check: 3 of 3 backends failed: source supervisely, embedder clip, store qdrant$' "$work/out"
ok $? "with all three backends remote and down, check still ends within ${ceiling} s naming all three (took $took s)" ||
    sed 's/^/# /' "$work/out"
! grep -q 'k3y-for-the-probe' "$work/out" "$work/err"
ok $? "the token read for the probe appears in no output"
done_testing
