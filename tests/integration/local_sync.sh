#!/bin/sh
# End to end on the embedded default: dir -> descriptor -> faiss-local through
# the real `embsync` binary and the real modules.
set -u
. "$top_srcdir/tests/integration/tap.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -R "$top_srcdir/samples" "$work/images"
chmod -R u+w "$work/images"
ini="$work/local.ini"
cat >"$ini" <<INI
[core]
state_dir = $work/state
plugin_path = $top_builddir/plugins
batch_size = 4
log_level = info
[source]
plugin = dir
root = $work/images
[embedder]
plugin = descriptor
[store]
plugin = faiss-local
INI
embsync="$top_builddir/embsync"
collections=$(cd "$work/images" && ls -d */ | tr -d /)

# Every collection's store holds exactly the folder's images.
store_matches_folder() {
    for c in $collections; do
        any=$(find "$work/images/$c" -type f \( -name '*.jpg' -o -name '*.png' \) | sort | head -n 1)
        "$embsync" search -c "$ini" --collection "$c" --image "$any" -k 100000 \
            >"$work/dump" 2>"$work/search.err" || { cat "$work/search.err"; return 1; }
        "$PYTHON3" "$top_srcdir/tests/integration/store_matches.py" \
            "$work/images/$c" <"$work/dump" || return 1
    done
}

"$embsync" once -c "$ini" 2>"$work/once1.log"
ok $? "first embsync once exits 0"
store_matches_folder
ok $? "after the first pass every collection matches its folder"

"$embsync" once -c "$ini" 2>"$work/once2.log"
ok $? "second pass exits 0"
grep -q "embedded" "$work/once2.log" && ! grep -E ": [1-9][0-9]* embedded" "$work/once2.log" >/dev/null
ok $? "second pass embeds nothing (state persisted across restarts)"

# The benchmarks' comparison mode (one stage at a time), from an empty
# state of its own, syncs the same.
main_ini=$ini
ini="$work/sequential.ini"
sed "s|^state_dir = .*|state_dir = $work/state-sequential|" "$main_ini" >"$ini"
EMBSYNC_PIPELINE=sequential "$embsync" once -c "$ini" 2>"$work/seq.log" &&
    grep -q "EMBSYNC_PIPELINE=sequential: one stage at a time" "$work/seq.log" &&
    grep -qE ": [1-9][0-9]* embedded" "$work/seq.log" && store_matches_folder
ok $? "with EMBSYNC_PIPELINE=sequential the engine runs one stage at a time and the store matches" ||
    sed 's/^/# /' "$work/seq.log"
# The daemon builds its engine through the same factory as once.
EMBSYNC_PIPELINE=sequential "$embsync" run -c "$ini" 2>"$work/seq-run.log" &
run_pid=$!
for _ in $(seq 1 100); do
    grep -q "EMBSYNC_PIPELINE=sequential: one stage at a time" "$work/seq-run.log" && break
    sleep 0.1
done
kill -TERM "$run_pid"
wait "$run_pid" && grep -q "EMBSYNC_PIPELINE=sequential: one stage at a time" "$work/seq-run.log"
ok $? "embsync run honours EMBSYNC_PIPELINE as once does, and stops on SIGTERM" ||
    sed 's/^/# /' "$work/seq-run.log"
ini=$main_ini

# Change the folder: add, modify (other content, new size), delete.
c1=$(echo "$collections" | head -n 1)
files=$(find "$work/images/$c1" -type f -name '*.png' | sort)
first=$(echo "$files" | sed -n 1p)
third=$(echo "$files" | sed -n 3p)
cp "$first" "$work/images/$c1/added-copy.png"
# New content for the third file, from another collection, so that no two
# files of this one are identical.
other=$(find "$work/images" -type f -name '*.png' ! -path "$work/images/$c1/*" | sort | head -n 1)
cp "$other" "$third.tmp" && mv "$third.tmp" "$third" && touch -d '2001-01-01' "$third"
rm -f "$first"
"$embsync" once -c "$ini" 2>"$work/once3.log"
ok $? "pass after add/modify/delete exits 0"
grep -qE "collection $c1: 2 embedded, 1 deleted" "$work/once3.log"
ok $? "it embedded the added and the modified file and deleted one" \
    || cat "$work/once3.log" | sed 's/^/# /'
store_matches_folder
ok $? "the store matches the changed folder exactly"

# Each image is its own nearest neighbour.
misses=0
for img in $(find "$work/images" -type f \( -name '*.jpg' -o -name '*.png' \)); do
    rel=${img#"$work/images/"}
    c=${rel%%/*}
    path=${rel#*/}
    top1=$("$embsync" search -c "$ini" --collection "$c" --image "$img" -k 1 | cut -f4)
    echo "$top1" | "$PYTHON3" -c "import json,sys; sys.exit(json.load(sys.stdin)['path'] != sys.argv[1])" "$path" \
        || { misses=$((misses + 1)); echo "# $rel: top hit $top1"; }
done
[ $misses -eq 0 ]
ok $? "search returns every image as its own top hit"

# An undecodable file fails alone and is not stored.
printf 'not an image' >"$work/images/$c1/broken.jpg"
"$embsync" once -c "$ini" 2>"$work/once4.log"
ok $? "a pass with an undecodable file still exits 0"
grep -qE "collection $c1: 0 embedded, 0 deleted, 1 failed" "$work/once4.log"
ok $? "the undecodable file is counted as failed" || sed 's/^/# /' "$work/once4.log"
rm -f "$work/images/$c1/broken.jpg"

# kill -9 in the middle of a larger sync, then converge.
mkdir -p "$work/images/$c1/bulk"
i=0
for f in $(find "$work/images" -type f -name '*.png' | head -n 8); do
    for k in $(seq 1 100); do
        cp "$f" "$work/images/$c1/bulk/copy-$i-$k.png"
    done
    i=$((i + 1))
done
journal="$work/state/source-dir/$c1.journal"
"$embsync" once -c "$ini" 2>"$work/once5.log" &
pid=$!
# Kill as soon as acknowledgements have started: in the middle of the run.
for _ in $(seq 1 500); do
    [ -s "$journal" ] && break
    sleep 0.01
done
kill -9 $pid 2>/dev/null
ok $? "kill -9 landed in the middle of a run"
wait $pid 2>/dev/null
"$embsync" once -c "$ini" 2>"$work/once6.log"
ok $? "the pass after kill -9 exits 0"
store_matches_folder
ok $? "after kill -9 and a re-run the store matches the folder exactly"

done_testing
