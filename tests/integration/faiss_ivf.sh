#!/bin/sh
# faiss-local through the real binary past its IVF threshold: the keys reach
# the collection, the compaction that crosses the threshold builds an IVF
# index (and says so), every image is stored, and a search after a reload
# (log replayed into the IVF index) finds an image's own vector first.
set -u
. "$top_srcdir/tests/integration/tap.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
embsync="$top_builddir/embsync"
images=2500

# Tiny distinct "JPEGs" (the null embedder only checks the signature):
# 2,500 points of 2,048 floats write a log past the 16 MiB compaction floor.
mkdir -p "$work/images/set"
"${PYTHON3:-python3}" - "$work/images/set" "$images" <<'PY'
import os, sys
for i in range(int(sys.argv[2])):
    with open(os.path.join(sys.argv[1], f"{i:05d}.jpg"), "wb") as f:
        f.write(b"\xff\xd8\xff\xe0" + f"image {i}".encode())
PY
cat >"$work/e.ini" <<INI
[core]
state_dir = $work/state
plugin_path = $top_builddir/plugins
batch_size = 256
[source]
plugin = dir
root = $work/images
[embedder]
plugin = null
dim = 2048
[store]
plugin = faiss-local
fsync = false
ivf_threshold = 1000
nprobe = 4
INI

"$embsync" once -c "$work/e.ini" 2>"$work/once.log"
[ $? -eq 0 ] && grep -q "collection set: $images embedded, 0 deleted, 0 failed" "$work/once.log"
ok $? "$images images sync into faiss-local" || sed 's/^/# /' "$work/once.log" | tail -20

grep -qE "collection set: [0-9]+ points, searched through an IVF index of [0-9]+ cells, 4 read per query" "$work/once.log"
ok $? "the compaction past ivf_threshold builds an IVF index and says so" ||
    grep '^' "$work/once.log" | sed 's/^/# /' | tail -20

# The committed snapshot holds the IVF index: FAISS tags an IndexIVFFlat
# "IwFl" (an exact IndexIDMap2 is "IxM2").
coll="$work/state/store-faiss-local/set"
gen=$(sed -n 's/.*"generation":[^0-9]*\([0-9]*\).*/\1/p' "$coll/meta.json")
[ -n "$gen" ] && [ "$gen" -gt 1 ] && [ "$(head -c 4 "$coll/index-$gen.faiss")" = "IwFl" ]
ok $? "the committed snapshot is an IVF index" || ls -l "$coll" | sed 's/^/# /'

# After a reload (snapshot + log replayed into the IVF index), an image's
# own vector is its top hit with score 1 (the null embedder maps several
# images to one vector, so the top hit may be a twin with the same score).
"$embsync" search -c "$work/e.ini" --collection set --image "$work/images/set/00042.jpg" -k 3 \
    >"$work/hits" 2>"$work/search.err"
[ $? -eq 0 ] && [ "$(wc -l <"$work/hits")" -eq 3 ] &&
    awk -F'\t' 'NR == 1 { exit !($2 > 0.9999) }' "$work/hits"
ok $? "a search after reloading finds the image's own vector first" ||
    sed 's/^/# /' "$work/hits" "$work/search.err"

done_testing
