#!/bin/sh
# Each crash window, hit exactly: the crash tests' build of embsync stops
# itself at a named point (EMBSYNC_CRASH_AT), or strace kills it at the Nth
# unlink inside a plugin; the next run must leave the store equal to the
# folder, with nothing lost and nothing left behind.
set -u
. "$top_srcdir/tests/integration/tap.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
embsync="$top_builddir/tests/crash/embsync-crash"
export EMBSYNC_RETRY_SCALE=0.001

# A fresh copy of the samples and a configuration for scenario $1 with the
# embedder section body $2.
setup() {
    rm -rf "$work/$1" "$work/$1-images"
    cp -R "$top_srcdir/samples" "$work/$1-images"
    chmod -R u+w "$work/$1-images"
    embedder "$1" "plugin = descriptor"
}
embedder() {
    cat >"$work/$1.ini" <<INI
[core]
state_dir = $work/$1
plugin_path = $top_builddir/plugins
batch_size = 4
log_level = info
[source]
plugin = dir
root = $work/$1-images
[embedder]
$2
[store]
plugin = faiss-local
INI
}

# The points of collection $2 of scenario $1, one "reference<TAB>score<TAB>id<TAB>payload"
# line each.
dump() {
    any=$(find "$work/$1-images" -type f \( -name '*.jpg' -o -name '*.png' \) | sort | head -n 1)
    "$embsync" search -c "$work/$1.ini" --collection "$2" --image "$any" -k 100000 2>>"$work/$1.search.err"
}

# Every collection of scenario $1 holds exactly its folder's images.
matches() {
    for c in shapes textures; do
        dump "$1" "$c" >"$work/$1.dump" || { sed 's/^/# /' "$work/$1.search.err"; return 1; }
        "$PYTHON3" "$top_srcdir/tests/integration/store_matches.py" \
            "$work/$1-images/$c" <"$work/$1.dump" || return 1
    done
}

killed() { [ "$1" -eq 137 ] || { echo "# exit status $1, not killed" && false; }; }

# Window 1: the store confirmed a batch, the source never recorded it, and
# those items are deleted before the next start.
setup w1
EMBSYNC_CRASH_AT=after-store "$embsync" once -c "$work/w1.ini" 2>"$work/w1.crash.log"
killed $?
ok $? "window 1: killed after the store confirmed the first batch"
dump w1 shapes | cut -f4 | "$PYTHON3" -c '
import json, sys
for line in sys.stdin:
    print(json.loads(line)["path"])' >"$work/w1.stored"
[ -s "$work/w1.stored" ]
ok $? "window 1: the batch is in the store ($(wc -l <"$work/w1.stored") points)"
while read -r path; do rm -f "$work/w1-images/shapes/$path"; done <"$work/w1.stored"
"$embsync" once -c "$work/w1.ini" 2>"$work/w1.log"
ok $? "window 1: the next run exits 0" || sed 's/^/# /' "$work/w1.log"
matches w1
ok $? "window 1: the deleted items left no orphan vector behind"

# Window 1b: as window 1, at the third batch: its in-flight record was
# written in place over the two before it, which were acknowledged and
# cleared (core/inflight.c), and it alone must be resolved.
setup w1b
EMBSYNC_CRASH_AT=after-store:3 "$embsync" once -c "$work/w1b.ini" 2>"$work/w1b.crash.log"
killed $?
ok $? "window 1b: killed after the store confirmed the third batch"
dump w1b shapes | cut -f4 | "$PYTHON3" -c '
import json, sys
for line in sys.stdin:
    print(json.loads(line)["path"])' >"$work/w1b.stored"
[ "$(wc -l <"$work/w1b.stored")" -gt 8 ]
ok $? "window 1b: three batches are in the store ($(wc -l <"$work/w1b.stored") points)"
while read -r path; do rm -f "$work/w1b-images/shapes/$path"; done <"$work/w1b.stored"
"$embsync" once -c "$work/w1b.ini" 2>"$work/w1b.log"
ok $? "window 1b: the next run exits 0" || sed 's/^/# /' "$work/w1b.log"
matches w1b
ok $? "window 1b: the deleted items left no orphan vector behind"

# Window 2a: a model change rebuilds the collection in place
# (rebuild_beside = false; tests/crash/rebuild_windows.sh has the windows of
# a rebuild beside the live one); killed between its two steps (forgetting
# at the source, dropping at the store).
setup w2a
"$embsync" once -c "$work/w2a.ini" 2>"$work/w2a.log"
ok $? "window 2a: first sync with the descriptor"
embedder w2a "plugin = null
dim = 64"
sed -i 's/^\[core\]$/[core]\nrebuild_beside = false/' "$work/w2a.ini"
EMBSYNC_CRASH_AT=rebuild-between "$embsync" once -c "$work/w2a.ini" 2>"$work/w2a.crash.log"
killed $?
ok $? "window 2a: killed in the middle of the rebuild"
"$embsync" once -c "$work/w2a.ini" 2>"$work/w2a.log"
ok $? "window 2a: the next run exits 0" || sed 's/^/# /' "$work/w2a.log"
matches w2a
ok $? "window 2a: every image is back in the rebuilt collection"

# Window 2b: the store's drop itself is cut short: killed at each unlink of
# the rebuild pass in turn, the first, the second, ... until a run has no
# more of them.
if command -v strace >/dev/null 2>&1 && strace -qq -o /dev/null true 2>/dev/null; then
    n=1
    while [ $n -le 20 ]; do
        setup w2b
        "$embsync" once -c "$work/w2b.ini" 2>"$work/w2b.log"
        embedder w2b "plugin = null
dim = 64"
        strace -f -qq -o /dev/null -e trace=unlink,unlinkat -e signal=none \
            -e inject=unlink,unlinkat:signal=KILL:when=$n \
            "$embsync" once -c "$work/w2b.ini" 2>"$work/w2b.crash.log"
        [ $? -eq 137 ] || break
        "$embsync" once -c "$work/w2b.ini" 2>"$work/w2b.log" &&
            ! grep -q "cannot open\|malformed metadata\|could not open" "$work/w2b.log" &&
            matches w2b
        ok $? "window 2b: killed at unlink number $n of the rebuild, the next run exits 0 and every image is in the rebuilt collection" ||
            sed 's/^/# /' "$work/w2b.log"
        n=$((n + 1))
    done
    [ $n -gt 5 ]
    ok $? "window 2b: the rebuild was cut at $((n - 1)) different unlinks"
else
    tap_n=$((tap_n + 1))
    echo "ok $tap_n # SKIP window 2b: strace cannot trace here"
fi

# A collection an earlier version left half deleted (meta.json without its
# index) is rebuilt from the source, not "exists but fails to open".
setup half
"$embsync" once -c "$work/half.ini" 2>"$work/half.log"
rm -f "$work/half/store-faiss-local/shapes"/index-*.faiss
"$embsync" once -c "$work/half.ini" 2>"$work/half.log" && grep -q "half deleted" "$work/half.log" &&
    matches half
ok $? "a half-deleted collection is rebuilt and holds every image again" ||
    sed 's/^/# /' "$work/half.log"

# Signals: SIGTERM while the first batch is being acknowledged.
setup sig
sed -i 's/^batch_size = .*/batch_size = 1/' "$work/sig.ini"
EMBSYNC_CRASH_AT=after-store EMBSYNC_CRASH_SIGNAL=TERM "$embsync" once -c "$work/sig.ini" 2>"$work/sig.log"
ok $? "SIGTERM: once exits 0" || sed 's/^/# /' "$work/sig.log"
grep -q " info .*SIGTERM" "$work/sig.log" && grep -q " info .*collection shapes: stopped" "$work/sig.log"
ok $? "SIGTERM: the requested stop is logged at info" || sed 's/^/# /' "$work/sig.log"
! grep -q " error " "$work/sig.log"
ok $? "SIGTERM: nothing is logged at error level" || sed 's/^/# /' "$work/sig.log"
grep -q " info .*1 collection(s) not started" "$work/sig.log" && ! grep -qE "[1-9][0-9]* collection\(s\) failed" "$work/sig.log"
ok $? "SIGTERM: the collection not reached is counted as not started, not failed" ||
    sed 's/^/# /' "$work/sig.log"
stored=$(dump sig shapes | wc -l)
total=$(find "$work/sig-images/shapes" -type f | wc -l)
[ "$stored" -lt "$total" ]
ok $? "SIGTERM: the run stopped early ($stored of $total stored)"
"$embsync" once -c "$work/sig.ini" 2>"$work/sig2.log"
grep -q "collection shapes: $((total - stored)) embedded" "$work/sig2.log"
ok $? "SIGTERM: the $stored stored items were acknowledged (the next run embeds only the other $((total - stored)))" ||
    sed 's/^/# /' "$work/sig2.log"
matches sig
ok $? "SIGTERM: after the next run the store matches the folder"

done_testing
