#!/bin/sh
# Random kills of `embsync once` over the supervisely source, under the two
# extreme readings (showDisabled lists all / only the disabled; changing an
# image keeps / nulls its stamp), with adds, modifies and deletes made while
# embsync is down, some of them to images a killed run had stored but not
# acknowledged: after the kills, one uninterrupted run must leave the store
# exactly equal to the enabled images (no orphan, none missing).
set -u
. "$top_srcdir/tests/integration/tap.sh"
. "$top_srcdir/tests/emulators/emulator.sh"
. "$top_srcdir/tests/supervisely/lib.sh"

work=$(mktemp -d)
trap 'stop_emulators; rm -rf "$work"' EXIT
emu="$top_srcdir/tests/emulators/supervisely/supervisely_emulator.py"
embsync="$top_builddir/embsync"
ini="$work/s.ini"
export EMBSYNC_RETRY_SCALE=0.02
token="sly-api-token-$(date +%s)"
printf '%s\n' "$token" >"$work/token"
kills=6

for reading in "include" "only --modify-clears-stamp"; do
    # shellcheck disable=SC2086
    start_emulator sly "$emu" --token "$token" --show-disabled $reading \
        --fixture "$top_srcdir/tests/supervisely/readings.json"
    base="http://127.0.0.1:$sly_port"
    rm -rf "$work/state" "$work/probe.jpg"
    cat >"$ini" <<INI
[core]
state_dir = $work/state
plugin_path = $top_builddir/plugins
batch_size = 4
[source]
plugin = supervisely
server = $base
token_file = $work/token
page_size = 7
download_concurrency = 2
[embedder]
plugin = descriptor
[store]
plugin = faiss-local
INI
    next=1000000
    for k in $(seq 1 $kills); do
        "$embsync" once -c "$ini" >"$work/once.log" 2>&1 &
        pid=$!
        # Somewhere in the first 0.05-0.5 s of the run.
        sleep "0.$(( (k * 7919 + $$) % 45 + 5 ))"
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        # While it is down: 3 added, 2 modified, 2 deleted (among the
        # recent ids: the ones a killed run may have stored unacknowledged).
        sly_control images '{"add": {"project": 42, "count": 3, "dataset": 8}}' >/dev/null
        sly_control images "{\"modify\": [$((next + 1)), $((next + 50))],
                             \"delete\": [$((next + 2)), $((next + 61))]}" >/dev/null
        next=$((next + 3))
    done
    "$embsync" once -c "$ini" >"$work/once.log" 2>&1
    ok $? "--show-disabled $reading: the run after $kills kills exits 0" || sed 's/^/# /' "$work/once.log"
    sly_synced 42 48
    ok $? "--show-disabled $reading: the store equals the enabled images, stamps and payloads current" ||
        sed 's/^/# /' "$work/synced.out"
    stop_emulators
done
done_testing
