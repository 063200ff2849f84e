#!/bin/sh
# The descriptor finds edited copies of real photographs: a few small ones
# in tests/data/photos, cut in look-alike halves and edited as people do
# (bench/photo_edits.py).  The floors sit well below what it scores
# (recall 1.00, originals 0.99) so only a broken descriptor fails them;
# bench/descriptor_eval gives the real figure on many more photographs.
set -u
. "$top_srcdir/tests/integration/tap.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PYTHON3" "$top_srcdir/bench/photo_edits.py" "$work/set" \
    "$top_srcdir"/tests/data/photos/*.jpg >"$work/index"
ok $? "edited copies written ($(wc -l <"$work/index") images)"
"$top_builddir/bench/descriptor_recall" "$work/index" >"$work/out" 2>"$work/err"
ok $? "descriptor_recall ran"
cat "$work/out" "$work/err" | sed 's/^/# /'
figure() { tr ' ' '\n' <"$work/out" | sed -n "s/^$1=//p"; }
above() { awk -v v="$1" -v f="$2" 'BEGIN { exit !(v >= f) }'; }
above "$(figure recall_at_1)" 0.90
ok $? "recall@1 (nearest other image is a copy) >= 0.90"
above "$(figure original_at_1)" 0.85
ok $? "a copy's nearest original is its own >= 0.85"
mirror=$(sed -n 's/^ *mirror *original_at_1 \([0-9.]*\).*/\1/p' "$work/err")
above "${mirror:-0}" 0.80
ok $? "mirrored copies find their original >= 0.80"
done_testing
