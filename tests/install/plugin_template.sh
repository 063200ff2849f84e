#!/bin/sh
# The SDK as a third-party author meets it: install embsync, copy
# examples/plugin-template somewhere else, build it with its own Makefile
# against the *installed* header and embsync-plugin.pc, run it through the
# installed embsync-plugin-check, install it into the plugin directory and
# sync the samples into it with the installed embsync.
#
# With EMBSYNC_PREFIX set (make installcheck), that installation is used;
# otherwise the build tree is installed into a scratch DESTDIR first.
set -u
. "$top_srcdir/tests/integration/tap.sh"

work=$(mktemp -d)
plugindir=""
# What this test installs into the plugin directory goes again, so that an
# installation it was pointed at (installcheck) uninstalls cleanly.
trap 'rm -f "${plugindir:+$plugindir/flatstore.so}"; rm -rf "$work"' EXIT

if [ -n "${EMBSYNC_PREFIX:-}" ]; then
    prefix=$EMBSYNC_PREFIX
    ok 0 "using the installation in $prefix"
else
    make -C "$top_builddir" install DESTDIR="$work/dest" >"$work/install.log" 2>&1
    ok $? "make install into a scratch DESTDIR" || sed 's/^/# /' "$work/install.log"
    prefix=$(sed -n 's/^prefix=//p' "$top_builddir/embsync-plugin.pc")
    prefix="$work/dest$prefix"
fi
pcdir=$(dirname "$(find "$prefix" -name embsync-plugin.pc | head -n 1)")
[ -f "$pcdir/embsync-plugin.pc" ] && [ -f "$prefix/include/embsync/plugin.h" ]
ok $? "the header and embsync-plugin.pc are installed"

# pkg-config computes the prefix from where the .pc file lies, so a
# DESTDIR staging tree works like a real prefix.
export PKG_CONFIG_PATH="$pcdir"
pc="pkg-config --define-prefix"
plugindir=$($pc --variable=plugindir embsync-plugin)
[ -f "$plugindir/descriptor.so" ] && [ -f "$plugindir/dir.so" ]
ok $? "pkg-config --variable=plugindir names the directory holding the installed plugins"

# The template alone: no path back into the embsync tree.
cp -R "$top_srcdir/examples/plugin-template" "$work/template"
chmod -R u+w "$work/template"
make -C "$work/template" PKG_CONFIG="$pc" CFLAGS="-O2 -Wall -Wextra -Werror" \
    >"$work/build.log" 2>&1
ok $? "the template builds out of tree with its own Makefile" || sed 's/^/# /' "$work/build.log"
! grep -q -- "-I$top_srcdir" "$work/build.log"
ok $? "its compile line uses only the installed header"

"$prefix/bin/embsync-plugin-check" --tap "$work/template/flatstore.so" >"$work/check.out" 2>&1
ok $? "the installed embsync-plugin-check passes the template" || true
sed 's/^/# /' "$work/check.out"

make -C "$work/template" PKG_CONFIG="$pc" install >"$work/inst.log" 2>&1 &&
    [ -f "$plugindir/flatstore.so" ]
ok $? "make install puts flatstore.so into the plugin directory"

cp -R "$top_srcdir/samples" "$work/images"
chmod -R u+w "$work/images"
cat >"$work/embsync.ini" <<INI
[core]
state_dir = $work/state
plugin_path = $plugindir
[source]
plugin = dir
root = $work/images
[embedder]
plugin = descriptor
[store]
plugin = flatstore
INI
"$prefix/bin/embsync" plugins -c "$work/embsync.ini" >"$work/plugins.out" 2>&1
grep -q "flatstore" "$work/plugins.out"
ok $? "the installed embsync loads it by its short name"
"$prefix/bin/embsync" once -c "$work/embsync.ini" >"$work/once.out" 2>&1
ok $? "embsync once syncs the samples into it" || sed 's/^/# /' "$work/once.out"
query=$(find "$work/images/shapes" -type f | sort | head -n 1)
"$prefix/bin/embsync" search -c "$work/embsync.ini" --collection shapes \
    --image "$query" -k 3 >"$work/search.out" 2>&1
rel=${query#"$work/images/shapes/"}
head -n 1 "$work/search.out" | grep -q "$rel"
ok $? "search finds the query image first through it" || sed 's/^/# /' "$work/search.out"
done_testing
