#!/bin/sh
# [core] shard = K/N through the real binary: three daemons' passes split
# the source's collections between them, each exactly once, and the split is
# the same on every pass.
set -u
. "$top_srcdir/tests/integration/tap.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/images"
# Twelve collections of a few images each.
for i in 01 02 03 04 05 06 07 08 09 10 11 12; do
    cp -R "$top_srcdir/samples/textures" "$work/images/c$i"
done
embsync="$top_builddir/embsync"
ini() { # ini K/N
    k=${1%/*}
    local_ini "$work/shard$k.ini" "$work/state$k" "$work/images" "shard = $1"
}

# The collections a pass log says were run, one per line, sorted.
ran() {
    sed -n 's/.* collection \(c[0-9]*\): [0-9]* embedded.*/\1/p' "$1" | sort
}

for k in 1 2 3; do
    ini "$k/3"
    "$embsync" once -c "$work/shard$k.ini" 2>"$work/pass1.$k.log"
    ok $? "shard $k/3: the pass succeeds"
    ran "$work/pass1.$k.log" >"$work/ran1.$k"
done
cat "$work/ran1.1" "$work/ran1.2" "$work/ran1.3" | sort >"$work/all"
ls "$work/images" | sort >"$work/expected"
cmp -s "$work/all" "$work/expected"
ok $? "the three shards ran every collection exactly once between them"
for k in 1 2 3; do
    [ -s "$work/ran1.$k" ] && grep -q "shard $k/3: ran $(wc -l <"$work/ran1.$k" | tr -d ' ') of the source's 12 collection(s)" "$work/pass1.$k.log"
    ok $? "shard $k/3 ran some and says how many of the 12"
done

for k in 1 2 3; do
    "$embsync" once -c "$work/shard$k.ini" 2>"$work/pass2.$k.log"
    ran "$work/pass2.$k.log" >"$work/ran2.$k"
    cmp -s "$work/ran1.$k" "$work/ran2.$k" &&
        ! grep -q ' [1-9][0-9]* embedded' "$work/pass2.$k.log"
    ok $? "shard $k/3: the next pass runs the same collections, with nothing new"
done

ini 4/3
"$embsync" once -c "$work/shard4.ini" 2>"$work/bad.log"
rc=$?
[ $rc -eq 2 ] && grep -q "shard4.ini:4: \[core\] shard" "$work/bad.log" &&
    grep -q "1 <= K <= N" "$work/bad.log"
ok $? "shard = 4/3 is a configuration error naming file, line and key (exit $rc)"
done_testing
