#!/bin/sh
# A rebuild beside the live collection killed in each window between two of
# its writes (record, shadow filled, caught up, alias switched, acks given,
# old collection dropped), for faiss-local and the Qdrant emulator, with
# items deleted and added before the next run: until the switch readers get
# the old model, after it the new one; the next run finishes the rebuild,
# the store then holds exactly the folder's images (no vector of a deleted
# item on either side), one collection behind the alias, no record, and
# the run after it has nothing left to embed.
set -u
. "$top_srcdir/tests/integration/tap.sh"
. "$top_srcdir/tests/emulators/emulator.sh"

work=$(mktemp -d)
trap 'stop_emulators; rm -rf "$work"' EXIT
embsync="$top_builddir/tests/crash/embsync-crash"
export EMBSYNC_RETRY_SCALE=0.01
items=300

start_emulator qd "$top_srcdir/tests/emulators/qdrant/qdrant_emulator.py"

# config SEED: scenario $scenario's configuration with the null embedder of
# SEED, into $work/$scenario-SEED.ini.
config() {
    if [ "$store_kind" = qdrant ]; then
        store="plugin = qdrant
url = http://127.0.0.1:$qd_port
collection_prefix = w_$scenario"
    else
        store="plugin = faiss-local"
    fi
    null_ini "$work/$scenario-$1.ini" "$work/$scenario" "$work/$scenario-images" \
        "$1" 32 16 "$store"
    echo "$work/$scenario-$1.ini"
}

probe_of() { echo "$work/$scenario-images/photos/p00003.jpg"; }

# Top score of the probe image embedded by model $1.
top_score() {
    "$embsync" search -c "$(config "$1")" --collection photos --image "$(probe_of)" -k 1 2>/dev/null |
        cut -f2
}
answers_from() { [ "$(top_score "$1" | cut -c1-5)" = "1.000" ]; }

dump_matches() {
    "$embsync" search -c "$(config 1)" --collection photos --image "$(probe_of)" -k 100000 \
        >"$work/$scenario.dump" 2>"$work/$scenario.dump.err" &&
        "$PYTHON3" "$top_srcdir/tests/integration/store_matches.py" \
            "$work/$scenario-images/photos" <"$work/$scenario.dump"
}

collections() {
    if [ "$store_kind" = qdrant ]; then
        "$PYTHON3" - "$qd_port" "w_$scenario" <<'PY'
import json, sys, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
c = json.load(urllib.request.urlopen(base + "/collections"))["result"]["collections"]
print(sum(1 for x in c if x["name"].startswith(sys.argv[2])))
PY
    else
        find "$work/$scenario/store-faiss-local" -mindepth 1 -maxdepth 1 -type d | wc -l
    fi
}

for store_kind in faiss qdrant; do
    for point in rebuild-recorded rebuild-filled rebuild-caught-up rebuild-switched \
        rebuild-acked rebuild-dropped; do
        scenario="$store_kind-$point"
        fake_photos "$work/$scenario-images/photos" "$items"
        "$embsync" once -c "$(config 0)" 2>"$work/$scenario.first.log" || sed 's/^/# /' "$work/$scenario.first.log"
        # Two items the rebuild's run is the first to store: their
        # acknowledgements are held until the switch.
        if [ $point = rebuild-switched ]; then
            printf '\377\330\377\340held%s' 1 >"$work/$scenario-images/photos/held1.jpg"
            printf '\377\330\377\340held%s' 2 >"$work/$scenario-images/photos/held2.jpg"
        fi
        EMBSYNC_CRASH_AT=$point "$embsync" once -c "$(config 1)" 2>"$work/$scenario.crash.log"
        [ $? -eq 137 ]
        ok $? "$store_kind: killed at $point" || sed 's/^/# /' "$work/$scenario.crash.log"
        case $point in
        rebuild-recorded | rebuild-filled | rebuild-caught-up) before=0 ;;
        *) before=1 ;;
        esac
        answers_from $before
        ok $? "$store_kind $point: searches answer from model $before"
        # Deleted and added while nothing runs.
        rm -f "$work/$scenario-images/photos"/p0001[0-4].jpg
        printf '\377\330\377\340new%s' 1 >"$work/$scenario-images/photos/new1.jpg"
        printf '\377\330\377\340new%s' 2 >"$work/$scenario-images/photos/new2.jpg"
        "$embsync" once -c "$(config 1)" 2>"$work/$scenario.next.log"
        ok $? "$store_kind $point: the next run exits 0" || sed 's/^/# /' "$work/$scenario.next.log"
        if [ $point = rebuild-switched ]; then
            grep -q "acknowledged what the interrupted rebuild held past its switch" \
                "$work/$scenario.next.log" &&
                grep -q "collection photos: 2 embedded" "$work/$scenario.next.log"
            ok $? "$store_kind $point: the acknowledgements held past the switch are given, so only the 2 items added since are embedded" ||
                sed 's/^/# /' "$work/$scenario.next.log"
        fi
        answers_from 1 && dump_matches && [ "$(collections)" -eq 1 ] &&
            [ ! -e "$work/$scenario/core/rebuild/photos.json" ]
        ok $? "$store_kind $point: model 1 answers, the store holds exactly the folder, one collection, no record" ||
            sed 's/^/# /' "$work/$scenario.next.log" "$work/$scenario.dump.err"
        "$embsync" once -c "$(config 1)" 2>"$work/$scenario.last.log" &&
            grep -q "collection photos: 0 embedded" "$work/$scenario.last.log"
        ok $? "$store_kind $point: every item was acknowledged (the run after embeds nothing)" ||
            sed 's/^/# /' "$work/$scenario.last.log"
    done
done

done_testing
