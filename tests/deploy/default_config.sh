#!/bin/sh
# Without -c: $EMBSYNC_CONFIG, else the installed default; --help says which.
set -u
. "$top_srcdir/tests/integration/tap.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/images/one"
cp "$(find "$top_srcdir/samples" -type f -name '*.jpg' | head -n 1)" "$work/images/one/"
cat >"$work/env.ini" <<INI
[core]
state_dir = $work/state
plugin_path = $top_builddir/plugins
[source]
plugin = dir
root = $work/images
[embedder]
plugin = descriptor
[store]
plugin = faiss-local
INI
default=$(sed -n 's/^sysconfdir = //p' "$top_builddir/Makefile")
prefix=$(sed -n 's/^prefix = //p' "$top_builddir/Makefile")
default=$(echo "$default" | sed "s|\${prefix}|$prefix|")/embsync/embsync.ini

EMBSYNC_CONFIG=$work/env.ini "$top_builddir/embsync" check >"$work/out" 2>&1
ok $? "check without -c reads \$EMBSYNC_CONFIG" || sed 's/^/# /' "$work/out"
grep -q "^config $work/env.ini: ok$" "$work/out"
ok $? "... and says which file it read"

env -u EMBSYNC_CONFIG "$top_builddir/embsync" --help >"$work/help" 2>&1
grep -q "without -c: \$EMBSYNC_CONFIG, else $default" "$work/help"
ok $? "--help names \$EMBSYNC_CONFIG and the installed default $default" ||
    sed 's/^/# /' "$work/help"
EMBSYNC_CONFIG=$work/env.ini "$top_builddir/embsync" once --help >"$work/help" 2>&1
grep -q "(now: $work/env.ini, from \$EMBSYNC_CONFIG)" "$work/help"
ok $? "a command's --help shows the file it would read now" ||
    sed 's/^/# /' "$work/help"

if [ -e "$default" ]; then
    ok 0 "# SKIP $default exists on this machine"
else
    env -u EMBSYNC_CONFIG "$top_builddir/embsync" check >"$work/out" 2>&1
    rc=$?
    [ $rc -eq 2 ] && grep -q "$default: cannot open" "$work/out"
    ok $? "without either, the installed default is read (and its absence is a configuration error)" ||
        sed 's/^/# /' "$work/out"
fi
done_testing
