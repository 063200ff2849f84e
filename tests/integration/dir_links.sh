#!/bin/sh
# The dir source walks folders physically: a symbolic link loop and a link
# out of the root under a collection neither hang `embsync once` nor add
# items, and the skipped links are counted in the log once per walk.
set -u
. "$top_srcdir/tests/integration/tap.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -R "$top_srcdir/samples" "$work/images"
chmod -R u+w "$work/images"
mkdir "$work/outside"
cp "$top_srcdir/samples/textures/checker.png" "$work/outside/elsewhere.png"
ln -s . "$work/images/shapes/loop"
ln -s ../../outside "$work/images/shapes/out"
ln -s target.png "$work/images/shapes/linked.png"
ini="$work/links.ini"
cat >"$ini" <<INI
[core]
state_dir = $work/state
plugin_path = $top_builddir/plugins
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

timeout 60 "$embsync" once -c "$ini" 2>"$work/once.log"
ok $? "once ends and exits 0 with a link loop under the root" || sed 's/^/# /' "$work/once.log"
[ "$(grep -c 'collection shapes: skipped 3 symbolic link(s)' "$work/once.log")" -eq 1 ]
ok $? "the three skipped links are logged once, with their number" || sed 's/^/# /' "$work/once.log"
real=$(find "$work/images/shapes" -type f | wc -l)
"$embsync" search -c "$ini" --collection shapes --image "$work/images/shapes/target.png" -k 1000 \
    2>/dev/null >"$work/dump"
[ "$(wc -l <"$work/dump")" -eq "$real" ] && ! grep -q 'loop/\|out/\|linked' "$work/dump"
ok $? "the store holds the $real real files and nothing reached through a link" ||
    sed 's/^/# /' "$work/dump"

done_testing
