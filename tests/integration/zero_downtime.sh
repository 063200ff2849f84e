#!/bin/sh
# A model change without downtime, for faiss-local and for Qdrant (the
# emulator): a collection of a few thousand items, the embedder's identity
# changed between runs (the null embedder's seed), a reader searching in a
# loop the whole time.  Every search answers, from the old model until the
# switch and from the new one after it; the process frozen in the middle of
# the fill and right before the switch still leaves readers the old model.
# The first rebuild replaces the plain collection by an alias (the one
# short switch-over, logged); the second repoints the alias, with no gap at
# all.  Then kill -9 and SIGTERM in the middle of a rebuild: the live
# collection is untouched and the next run completes it without embedding
# again what the shadow holds.
set -u
. "$top_srcdir/tests/integration/tap.sh"
. "$top_srcdir/tests/emulators/emulator.sh"

work=$(mktemp -d)
trap 'stop_emulators; rm -rf "$work"' EXIT
embsync="$top_builddir/tests/crash/embsync-crash"
reader="$top_srcdir/tests/integration/search_reader.py"
export EMBSYNC_RETRY_SCALE=0.01
items=3000

fake_photos "$work/images/photos" "$items"
probe="$work/images/photos/p00007.jpg"

start_emulator qd "$top_srcdir/tests/emulators/qdrant/qdrant_emulator.py"

# config STORE SEED: the configuration of store STORE's scenario with the
# null embedder of SEED.
config() {
    if [ "$1" = qdrant ]; then
        store="plugin = qdrant
url = http://127.0.0.1:$qd_port
collection_prefix = zd_$scenario
batch_size = 64"
    else
        store="plugin = faiss-local"
    fi
    null_ini "$work/$scenario-$2.ini" "$work/$scenario" "$work/images" "$2" 64 32 \
        "$store"
    echo "$work/$scenario-$2.ini"
}

# The label of one search sample of scenario $1 from model $2 vs model $3.
sample() {
    rm -f "$work/one.stop"
    touch "$work/one.stop"
    "$PYTHON3" "$reader" "$embsync" "$(config "$store_kind" "$2")" \
        "$(config "$store_kind" "$3")" photos "$probe" "$work/one.out" "$work/one.stop" &&
        cut -d' ' -f2 "$work/one.out"
}

# Wait until process $1 is stopped (frozen at a crash point), at most 20 s.
frozen() {
    for _ in $(seq 1 400); do
        [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" = T ] && return 0
        kill -0 "$1" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# rebuild FROM TO GAP: rebuild from seed FROM to seed TO with the reader
# running, the process frozen mid-fill and right before the switch.
rebuild() {
    rm -f "$work/reader.stop"
    "$PYTHON3" "$reader" "$embsync" "$(config "$store_kind" "$1")" \
        "$(config "$store_kind" "$2")" photos "$probe" "$work/reader.out" "$work/reader.stop" &
    rpid=$!
    sleep 0.5
    # Frozen twice: after the 20th stored batch of the fill, then at the
    # last point before the switch.
    EMBSYNC_CRASH_AT=after-store:20,rebuild-caught-up EMBSYNC_CRASH_SIGNAL=STOP \
        "$embsync" once -c "$(config "$store_kind" "$2")" 2>"$work/$scenario.rebuild.log" &
    epid=$!
    frozen $epid
    ok $? "$store_kind $1 -> $2: frozen in the middle of the fill"
    [ "$(sample "$store_kind" "$1" "$2")" = old ]
    ok $? "$store_kind $1 -> $2: mid-fill, searches answer from the old model"
    sleep 0.5
    kill -CONT $epid
    frozen $epid && [ "$(sample "$store_kind" "$1" "$2")" = old ]
    ok $? "$store_kind $1 -> $2: filled and caught up, right before the switch, searches answer from the old model"
    sleep 0.5
    kill -CONT $epid
    wait $epid
    ok $? "$store_kind $1 -> $2: the rebuild run exits 0" || sed 's/^/# /' "$work/$scenario.rebuild.log"
    touch "$work/reader.stop"
    wait $rpid
    grep -q "(rebuilt)" "$work/$scenario.rebuild.log" &&
        grep -q "collection photos: $items embedded" "$work/$scenario.rebuild.log"
    ok $? "$store_kind $1 -> $2: all $items items were embedded into the new collection" ||
        sed 's/^/# /' "$work/$scenario.rebuild.log"
    "$PYTHON3" "$reader" --check "$work/reader.out" --allow-gap "$3"
    ok $? "$store_kind $1 -> $2: every search answered, old model until the switch, new after (gap allowed: $3)"
    [ "$(sample "$store_kind" "$2" "$1")" = old ]
    ok $? "$store_kind $1 -> $2: after the switch, searches answer from the new model"
}

# Collections of the store: faiss-local's folders and links, or Qdrant's.
collections() {
    if [ "$store_kind" = qdrant ]; then
        "$PYTHON3" - "$qd_port" "zd_$scenario" <<'PY'
import json, sys, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
c = json.load(urllib.request.urlopen(base + "/collections"))["result"]["collections"]
a = json.load(urllib.request.urlopen(base + "/aliases"))["result"]["aliases"]
for x in c:
    if x["name"].startswith(sys.argv[2]):
        print("collection", x["name"][len(sys.argv[2]):])
for x in a:
    if x["alias_name"].startswith(sys.argv[2]):
        print("alias", x["alias_name"][len(sys.argv[2]):], x["collection_name"][len(sys.argv[2]):])
PY
    else
        for f in "$work/$scenario/store-faiss-local"/*; do
            if [ -L "$f" ]; then echo "alias ${f##*/} $(readlink "$f")"
            elif [ -d "$f" ]; then echo "collection ${f##*/}"; fi
        done
    fi | sort
}

# Points in store collection $2 under the configuration of seed $1.
points() {
    "$embsync" search -c "$(config "$store_kind" "$1")" --collection "$2" \
        --image "$probe" -k 100000 2>/dev/null | wc -l
}

shadow_of() {
    "$PYTHON3" -c 'import json,sys; print(json.load(open(sys.argv[1]))["shadow"])' \
        "$work/$scenario/core/rebuild/photos.json"
}

for store_kind in faiss qdrant; do
    scenario="$store_kind"
    "$embsync" once -c "$(config "$store_kind" 0)" 2>"$work/$scenario.first.log"
    ok $? "$store_kind: first sync with model 0" || sed 's/^/# /' "$work/$scenario.first.log"

    rebuild 0 1 1
    grep -q "is a plain collection" "$work/$scenario.rebuild.log"
    ok $? "$store_kind 0 -> 1: the one switch-over from the plain collection is logged"
    rebuild 1 2 0
    collections >"$work/$scenario.collections"
    [ "$(grep -c '^collection' "$work/$scenario.collections")" -eq 1 ] &&
        grep -q "^alias photos photos__" "$work/$scenario.collections"
    ok $? "$store_kind: after the switches, one collection and the alias readers use" ||
        sed 's/^/# /' "$work/$scenario.collections"
    [ ! -e "$work/$scenario/core/rebuild/photos.json" ]
    ok $? "$store_kind: no rebuild record is left"
    "$embsync" once -c "$(config "$store_kind" 2)" 2>"$work/$scenario.again.log"
    grep -q "collection photos: 0 embedded" "$work/$scenario.again.log"
    ok $? "$store_kind: the items of the rebuild were acknowledged (the next run embeds nothing)" ||
        sed 's/^/# /' "$work/$scenario.again.log"

    # kill -9 in the middle of a rebuild (after the 30th stored batch).
    EMBSYNC_CRASH_AT=after-store:30 "$embsync" once -c "$(config "$store_kind" 3)" \
        2>"$work/$scenario.kill.log"
    [ $? -eq 137 ]
    ok $? "$store_kind: killed in the middle of the rebuild to model 3"
    shadow=$(shadow_of)
    in_shadow=$(points 3 "$shadow")
    [ "$in_shadow" -gt 0 ] && [ "$in_shadow" -lt "$items" ]
    ok $? "$store_kind: the shadow $shadow holds part of the items ($in_shadow)"
    [ "$(sample "$store_kind" 2 3)" = old ]
    ok $? "$store_kind: after the kill, searches still answer from the old model"
    "$top_builddir/embsync" status -c "$(config "$store_kind" 3)" >"$work/$scenario.status" &&
        grep -q "rebuild: *into $shadow for null:64:seed3, filling" "$work/$scenario.status"
    ok $? "$store_kind: embsync status shows the rebuild in flight" || sed 's/^/# /' "$work/$scenario.status"
    "$embsync" once -c "$(config "$store_kind" 3)" 2>"$work/$scenario.resume.log"
    ok $? "$store_kind: the next run exits 0" || sed 's/^/# /' "$work/$scenario.resume.log"
    grep -q "resuming the build of $shadow" "$work/$scenario.resume.log" &&
        grep -q "collection photos: $((items - in_shadow)) embedded" "$work/$scenario.resume.log"
    ok $? "$store_kind: it resumed and embedded only the $((items - in_shadow)) items the shadow lacked" ||
        sed 's/^/# /' "$work/$scenario.resume.log"
    [ "$(sample "$store_kind" 3 2)" = old ] && [ "$(points 3 photos)" -eq "$items" ]
    ok $? "$store_kind: searches answer from model 3, all $items items there"

    # SIGTERM in the middle of a rebuild.
    EMBSYNC_CRASH_AT=after-store:30 EMBSYNC_CRASH_SIGNAL=TERM \
        "$embsync" once -c "$(config "$store_kind" 4)" 2>"$work/$scenario.term.log"
    ok $? "$store_kind: SIGTERM in the middle of a rebuild, once exits 0" ||
        sed 's/^/# /' "$work/$scenario.term.log"
    [ "$(sample "$store_kind" 3 4)" = old ] && [ "$(points 3 photos)" -eq "$items" ] &&
        [ -e "$work/$scenario/core/rebuild/photos.json" ]
    ok $? "$store_kind: the live collection is untouched, the rebuild recorded"
    "$embsync" once -c "$(config "$store_kind" 4)" 2>"$work/$scenario.term2.log" &&
        grep -q "resuming the build of" "$work/$scenario.term2.log" &&
        [ "$(sample "$store_kind" 4 3)" = old ]
    ok $? "$store_kind: the next run completes it" || sed 's/^/# /' "$work/$scenario.term2.log"

    # A rebuild cut short, then the model changed again: the shadow
    # belongs to no rebuild any more.
    EMBSYNC_CRASH_AT=after-store:10 "$embsync" once -c "$(config "$store_kind" 5)" \
        2>"$work/$scenario.orphan.log"
    orphan=$(shadow_of)
    "$embsync" once -c "$(config "$store_kind" 6)" 2>"$work/$scenario.orphan2.log"
    ok $? "$store_kind: a run with yet another model exits 0" || sed 's/^/# /' "$work/$scenario.orphan2.log"
    collections >"$work/$scenario.collections"
    grep -q "belongs to no rebuild any more" "$work/$scenario.orphan2.log" &&
        ! grep -q "$orphan" "$work/$scenario.collections" &&
        [ "$(grep -c '^collection' "$work/$scenario.collections")" -eq 1 ]
    ok $? "$store_kind: the orphan shadow $orphan was dropped" || sed 's/^/# /' "$work/$scenario.collections"

    # An operator's rebuild, the model unchanged: a collection of its own.
    # Five items never synced yet are embedded once, not by the fill and
    # again by the catch-up.
    for i in 1 2 3 4 5; do
        printf '\377\330\377\340%s-%s' "$store_kind" $i >"$work/images/photos/n-$store_kind-$i.jpg"
    done
    items=$((items + 5))
    live=$(collections | sed -n 's/^alias photos //p')
    "$top_builddir/embsync" rebuild -c "$(config "$store_kind" 6)" --collection photos \
        2>"$work/$scenario.cmd.log"
    ok $? "$store_kind: embsync rebuild exits 0" || sed 's/^/# /' "$work/$scenario.cmd.log"
    now=$(collections | sed -n 's/^alias photos //p')
    [ -n "$now" ] && [ "$now" != "$live" ] &&
        grep -q "collection photos: $items embedded" "$work/$scenario.cmd.log" &&
        [ "$(collections | grep -c '^collection')" -eq 1 ] &&
        [ "$(points 6 photos)" -eq "$items" ]
    ok $? "$store_kind: it rebuilt all $items items into $now (was $live), each once, and dropped the old one" ||
        sed 's/^/# /' "$work/$scenario.cmd.log"
    "$embsync" once -c "$(config "$store_kind" 6)" 2>"$work/$scenario.after.log" &&
        grep -q "collection photos: 0 embedded" "$work/$scenario.after.log"
    ok $? "$store_kind: the new items were acknowledged at the switch" || sed 's/^/# /' "$work/$scenario.after.log"
done

# The daemon says a rebuild is in flight, with its done/total, on
# /progress and /health, while its store stage waits at a crash point.
store_kind=faiss scenario=faiss
port=$("$PYTHON3" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed "s/^\[core\]$/[core]\nlisten = 127.0.0.1:$port\ninterval = 1440/" "$(config faiss 7)" >"$work/daemon.ini"
EMBSYNC_CRASH_AT=after-store:20 EMBSYNC_CRASH_SIGNAL=PAUSE EMBSYNC_CRASH_RESUME_FILE="$work/resume" \
    "$embsync" run -c "$work/daemon.ini" 2>"$work/daemon.log" &
dpid=$!
"$PYTHON3" - "$port" "$items" <<'PY'
import json, sys, time, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
for _ in range(200):
    try:
        p = json.load(urllib.request.urlopen(base + "/progress", timeout=5))
        if p.get("stage") == "rebuild" and p.get("rebuild", {}).get("done", 0) > 0:
            break
    except OSError:
        pass
    time.sleep(0.1)
else:
    sys.exit(f"no rebuild in /progress: {p}")
r = p["rebuild"]
# total: the points of the live collection, what the new one will hold.
assert r["target"].startswith("photos__") and 0 < r["done"] < r["total"] <= int(sys.argv[2]), p
try:
    h = json.load(urllib.request.urlopen(base + "/health", timeout=5))
except urllib.error.HTTPError as e:   # degraded (503) until a pass ended
    h = json.load(e)
assert h["rebuild"]["target"] == r["target"], h
print(f"# /progress rebuild: {r}")
PY
ok $? "the daemon's /progress and /health show the rebuild in flight with its done/total" ||
    sed 's/^/# /' "$work/daemon.log"
touch "$work/resume"
for _ in $(seq 1 200); do
    grep -q "pass finished" "$work/daemon.log" && break
    sleep 0.1
done
kill -TERM $dpid
wait $dpid
grep -q "switched to photos__" "$work/daemon.log" && [ "$(sample faiss 7 6)" = old ]
ok $? "the daemon's rebuild switched; searches answer from the new model" || sed 's/^/# /' "$work/daemon.log"

"$top_builddir/embsync" rebuild -c "$work/faiss-6.ini" 2>"$work/usage.err"
[ $? -eq 2 ] && grep -q "needs --collection" "$work/usage.err"
ok $? "embsync rebuild without --collection is a usage error"

done_testing
