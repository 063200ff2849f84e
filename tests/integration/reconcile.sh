#!/bin/sh
# `embsync reconcile` and the daemon's reconcile_interval through the real
# binary on the embedded default (dir -> descriptor -> faiss-local): the
# store and the source are made to differ behind embsync's back, in both
# directions, and reconciliation finds, reports and repairs exactly that.
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
ini="$work/local.ini"
write_ini() { # $1 = extra [core] lines
    cat >"$ini" <<INI
[core]
state_dir = $work/state
plugin_path = $top_builddir/plugins
batch_size = 4
log_level = info
$1
[source]
plugin = dir
root = $work/images
[embedder]
plugin = descriptor
[store]
plugin = faiss-local
INI
}
write_ini ""
embsync="$top_builddir/embsync"
c=shapes
ledger="$work/state/source-dir/$c.ledger"

# The store's collection, one hit per line (reference, score, id, payload).
dump() {
    any=$(find "$work/images/$c" -type f -name '*.png' | sort | head -n 1)
    "$embsync" search -c "$ini" --collection "$c" --image "$any" -k 100000 \
        2>"$work/search.err" | sort
}
store_matches_folder() {
    dump >"$work/dump" && "$PYTHON3" "$top_srcdir/tests/integration/store_matches.py" \
        "$work/images/$c" <"$work/dump"
}

# Behind embsync's back: an orphan (a file deleted together with its entry
# in dir's applied state, so no delete is ever emitted) and a missing point
# (a file taken away and synced as deleted, then put back with the applied
# state from before, so the source believes its vector is stored).
make_them_differ() { # $1 = file to orphan, $2 = file to lose from the store
    rm -f "$work/images/$c/$1" &&
        grep -v "	$1\$" "$ledger" >"$ledger.new" && mv "$ledger.new" "$ledger" &&
        cp -p "$ledger" "$work/ledger.before" &&
        mv "$work/images/$c/$2" "$work/away" &&
        "$embsync" once -c "$ini" 2>"$work/lose.log" &&
        mv "$work/away" "$work/images/$c/$2" &&
        cp -p "$work/ledger.before" "$ledger"
}

"$embsync" once -c "$ini" 2>"$work/once1.log" && store_matches_folder
ok $? "a first pass syncs the folder"

"$embsync" reconcile -c "$ini" 2>"$work/r0.log"
ok $? "reconcile on a store equal to its source exits 0"
grep -qE "collection $c: reconciled: 12 store ids, 12 source items; 0 orphan\(s\) removed, 0 missing queued" "$work/r0.log"
ok $? "it reads every store id and source item and finds nothing" || sed 's/^/# /' "$work/r0.log"

make_them_differ circles/green-dot.png squares/orange-square.png
ok $? "the store and the folder are made to differ behind embsync's back" || sed 's/^/# /' "$work/lose.log"
grep -qE "collection $c: 0 embedded, 1 deleted" "$work/lose.log"
ok $? "(the missing point was removed by a normal pass)" || sed 's/^/# /' "$work/lose.log"
"$embsync" once -c "$ini" 2>"$work/once2.log" &&
    grep -qE "collection $c: 0 embedded, 0 deleted" "$work/once2.log"
ok $? "a normal pass sees no change: only reconciliation can find these" || sed 's/^/# /' "$work/once2.log"
! store_matches_folder >"$work/differ.txt" 2>&1 &&
    grep -q "circles/green-dot.png" "$work/differ.txt" &&
    grep -q "squares/orange-square.png" "$work/differ.txt"
ok $? "the store holds the deleted file and lacks the restored one" || sed 's/^/# /' "$work/differ.txt"

dump >"$work/before"
"$embsync" reconcile -c "$ini" --collection "$c" --dry-run 2>"$work/dry.log"
ok $? "reconcile --dry-run exits 0"
grep -qE "collection $c: reconciliation \(dry run\): 11 store ids, 11 source items; 1 orphan\(s\) found, 1 missing found" "$work/dry.log"
ok $? "the dry run reports the orphan and the missing item" || sed 's/^/# /' "$work/dry.log"
! grep -q "collection textures" "$work/dry.log"
ok $? "--collection limits it to that collection"
dump >"$work/after-dry" && cmp -s "$work/before" "$work/after-dry"
ok $? "the dry run changed nothing in the store"
"$embsync" status -c "$ini" >"$work/status-dry"
grep -qE "last reconcile: .*\(dry run\), ok .* 1 orphan\(s\) found, 1 missing found" "$work/status-dry"
ok $? "embsync status shows the dry run's counts" || sed 's/^/# /' "$work/status-dry"

"$embsync" reconcile -c "$ini" 2>"$work/r1.log"
ok $? "reconcile exits 0"
grep -qE "collection $c: reconciled: 11 store ids, 11 source items; 1 orphan\(s\) removed, 1 missing queued \(1 embedded, 0 failed" "$work/r1.log"
ok $? "it logs one orphan removed and one missing item embedded" || sed 's/^/# /' "$work/r1.log"
store_matches_folder
ok $? "the store matches the folder exactly again"
"$embsync" status -c "$ini" >"$work/status1"
grep -qE "last reconcile: [0-9]+ s ago, ok .* 1 orphan\(s\) removed, 1 missing queued \(1 embedded, 0 failed\)" "$work/status1"
ok $? "embsync status shows the last reconciliation and its counts" || sed 's/^/# /' "$work/status1"

"$embsync" reconcile -c "$ini" 2>"$work/r2.log" &&
    grep -qE "collection $c: reconciled: 11 store ids, 11 source items; 0 orphan\(s\) removed, 0 missing queued" "$work/r2.log"
ok $? "a second reconcile finds nothing" || sed 's/^/# /' "$work/r2.log"
"$embsync" once -c "$ini" 2>"$work/once3.log" &&
    grep -qE "collection $c: 0 embedded, 0 deleted" "$work/once3.log"
ok $? "the repaired item was acknowledged: the next pass has nothing to do" || sed 's/^/# /' "$work/once3.log"

"$embsync" reconcile -c "$ini" --collection nosuch 2>"$work/nosuch.log"
[ $? -ne 0 ] && grep -q "collection nosuch: the source dir does not list it" "$work/nosuch.log"
ok $? "reconcile of a collection the source does not list fails and says so" || sed 's/^/# /' "$work/nosuch.log"
"$embsync" once -c "$ini" --dry-run 2>"$work/once-dry.log"
[ $? -eq 2 ] && grep -q "option only for reconcile" "$work/once-dry.log"
ok $? "--dry-run is refused outside reconcile" || sed 's/^/# /' "$work/once-dry.log"

for bad in -1 525601 often; do
    write_ini "reconcile_interval = $bad"
    "$embsync" check -c "$ini" >/dev/null 2>"$work/bad.log"
    [ $? -eq 2 ] && grep -q "reconcile_interval" "$work/bad.log"
    ok $? "reconcile_interval = $bad is a configuration error naming the key" || sed 's/^/# /' "$work/bad.log"
done

# The daemon: reconcile_interval = 1 reconciles after the first pass (the
# state directory says a minute has passed since the last reconciliation
# only once we age its record), counted in /metrics.
write_ini ""
make_them_differ circles/red-circle.png squares/purple-square.png
ok $? "the store and the folder are made to differ again" || sed 's/^/# /' "$work/lose.log"
"$PYTHON3" - "$work/state/core/reconcile" <<'PY'
import json, os, sys
for f in os.listdir(sys.argv[1]):
    p = os.path.join(sys.argv[1], f)
    o = json.load(open(p))
    o["end"] -= 120
    json.dump(o, open(p, "w"))
PY
port=$("$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
write_ini "interval = 60
reconcile_interval = 1
listen = 127.0.0.1:$port"
"$embsync" run -c "$ini" 2>"$work/daemon.log" &
pid=$!
for _ in $(seq 1 150); do
    grep -q "collection textures: reconciled" "$work/daemon.log" && break
    sleep 0.2
done
grep -qE "collection $c: reconciled: 10 store ids, 10 source items; 1 orphan\(s\) removed, 1 missing queued \(1 embedded" "$work/daemon.log"
ok $? "the daemon reconciles after its pass and logs the counts" || sed 's/^/# /' "$work/daemon.log"
curl -s "http://127.0.0.1:$port/metrics" >"$work/metrics"
"$PYTHON3" "$top_srcdir/tests/integration/prom_parse.py" embsync_reconcile_items_total \
    embsync_reconcile_runs_total <"$work/metrics" >"$work/prom.out" 2>"$work/prom.err"
ok $? "/metrics is well-formed and has the reconciliation families" || sed 's/^/# /' "$work/prom.err"
grep -q "^embsync_reconcile_items_total{collection=\"$c\",result=\"orphan_removed\"} 1\$" "$work/metrics" &&
    grep -q "^embsync_reconcile_items_total{collection=\"$c\",result=\"missing_queued\"} 1\$" "$work/metrics" &&
    grep -q "^embsync_reconcile_items_total{collection=\"textures\",result=\"orphan_removed\"} 0\$" "$work/metrics"
ok $? "/metrics counts the orphan removed and the missing item queued per collection" || grep reconcile "$work/metrics" | sed 's/^/# /'
sleep 1
[ "$(grep -c "collection $c: reconciled" "$work/daemon.log")" -eq 1 ]
ok $? "and does not reconcile again before the interval has passed"
kill -TERM "$pid" && wait "$pid"
ok $? "the daemon stops on SIGTERM"
pid=""
store_matches_folder
ok $? "the store matches the folder after the daemon's reconciliation"

done_testing
