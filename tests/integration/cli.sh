#!/bin/sh
# The embsync command line: help, version, plugins, check, configuration
# errors that name file, line and key, refused modules, and a model change
# that rebuilds a collection through the real binary.
set -u
. "$top_srcdir/tests/integration/tap.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
embsync="$top_builddir/embsync"
cp -R "$top_srcdir/samples" "$work/images"
chmod -R u+w "$work/images"
write_ini() { # $1 = embedder section body
    cat >"$work/e.ini" <<INI
[core]
state_dir = $work/state
plugin_path = $top_builddir/plugins
[source]
plugin = dir
root = $work/images
[embedder]
$1
[store]
plugin = faiss-local
INI
}
write_ini "plugin = descriptor"

"$embsync" --help | grep -q "once"
ok $? "--help lists the commands"
"$embsync" --version | grep -qE "^embsync [0-9.]+ \(plugin ABI 1\.[0-9]+\)$"
ok $? "--version gives the version and the ABI"
"$embsync" search --help | grep -q -- "--collection"
ok $? "each command has its own --help"
"$embsync" frobnicate -c "$work/e.ini" 2>/dev/null
[ $? -eq 2 ]
ok $? "an unknown command exits 2"

"$embsync" plugins -c "$work/e.ini" >"$work/out"
grep -qE "^source +dir +version [^ ]+ +ABI 1\.[0-9]+" "$work/out" &&
    grep -qE "^embedder +descriptor " "$work/out" &&
    grep -qE "^store +faiss-local " "$work/out" && grep -q "root" "$work/out"
ok $? "plugins lists kind, name, version, ABI and keys" || sed 's/^/# /' "$work/out"

"$embsync" check -c "$work/e.ini" >"$work/out" 2>&1
[ $? -eq 0 ] && [ "$(grep -c ': ok$' "$work/out")" -eq 4 ]
ok $? "check opens every plugin and probes its backend" || sed 's/^/# /' "$work/out"

printf '[core]\ninterval = 5\nbogus = 1\n' >"$work/bad.ini"
"$embsync" check -c "$work/bad.ini" 2>"$work/err"
[ $? -eq 2 ] && grep -qF "$work/bad.ini:3: [core] bogus: unknown key" "$work/err"
ok $? "an unknown [core] key names file, line and key" || sed 's/^/# /' "$work/err"

write_ini "plugin = descriptor
colour = blue"
"$embsync" once -c "$work/e.ini" 2>"$work/err"
[ $? -ne 0 ] && grep -qF "$work/e.ini:9: [embedder] colour: unknown key for plugin descriptor" "$work/err"
ok $? "a key the plugin does not declare names file, line and key" || sed 's/^/# /' "$work/err"
for cmd in once check plugins; do
    "$embsync" $cmd -c "$work/e.ini" >/dev/null 2>&1
    rc=$?
    [ $rc -eq 2 ] || break
done
[ $rc -eq 2 ]
ok $? "an unknown plugin key is a configuration error: exit 2 (once, check, plugins)" || echo "# $cmd exited $rc"

sed 's/^\[embedder\]$/[embedder/' "$work/e.ini" >"$work/bracket.ini"
"$embsync" check -c "$work/bracket.ini" >/dev/null 2>"$work/err"
[ $? -eq 2 ] && grep -qF "$work/bracket.ini:7: section header without closing ']'" "$work/err" &&
    ! grep -q "set twice" "$work/err"
ok $? "a section header without ']' is reported on its own line, exit 2" || sed 's/^/# /' "$work/err"

write_ini "plugin = descriptor"
sed 's/^root = .*/root =/' "$work/e.ini" >"$work/empty.ini"
"$embsync" check -c "$work/empty.ini" >/dev/null 2>"$work/err"
[ $? -eq 2 ] && grep -qF "$work/empty.ini:6: [source] root: required by plugin dir, but empty" "$work/err"
ok $? "an empty required key fails validation naming file, line and key, exit 2" || sed 's/^/# /' "$work/err"

write_ini "plugin = descriptr"
"$embsync" check -c "$work/e.ini" >/dev/null 2>"$work/err"
[ $? -eq 2 ] && grep -qF "$work/e.ini:8: [embedder] plugin = descriptr:" "$work/err" &&
    grep -q "did you mean descriptor?" "$work/err" &&
    grep -q "embedder plugins there: clip, descriptor, null$" "$work/err"
ok $? "a typo'd plugin name suggests the near one and lists the embedders that exist" || sed 's/^/# /' "$work/err"

write_ini "plugin = faiss-local"
"$embsync" check -c "$work/e.ini" 2>"$work/err"
[ $? -eq 2 ] && grep -q "faiss-local.*refused: plugin 'faiss-local' is a store plugin, but the \[embedder\] section takes an embedder plugin" "$work/err"
ok $? "a plugin of the wrong kind is refused by name" || sed 's/^/# /' "$work/err"

write_ini "plugin = no-such-plugin"
"$embsync" check -c "$work/e.ini" 2>"$work/err"
[ $? -eq 2 ] && grep -q "no-such-plugin: cannot load plugin" "$work/err"
ok $? "a missing plugin is reported with the search path"

write_ini "plugin = descriptor"
printf 'ivf_threshold = 500\n' >>"$work/e.ini"
"$embsync" check -c "$work/e.ini" >"$work/out" 2>&1
[ $? -ne 0 ] && grep -q "faiss-local.*ivf_threshold must be 0 (always exact) or at least 1000, not 500" "$work/out" &&
    ! grep -q "cannot open:.*cannot open:" "$work/out"
ok $? "faiss-local refuses an IVF threshold too small to train cells on (said once)" || sed 's/^/# /' "$work/out"
write_ini "plugin = descriptor"
printf 'ivf_threshold = 0\nnprobe = 0\n' >>"$work/e.ini"
"$embsync" check -c "$work/e.ini" >"$work/out" 2>&1
[ $? -ne 0 ] && grep -q "faiss-local.*nprobe must be from 1 to 65536, not 0" "$work/out"
ok $? "faiss-local refuses nprobe 0" || sed 's/^/# /' "$work/out"

# A model change rebuilds the collection instead of mixing vectors.
write_ini "plugin = descriptor"
"$embsync" once -c "$work/e.ini" 2>/dev/null
ok $? "sync with the descriptor"
write_ini "plugin = null
dim = 64"
"$embsync" once -c "$work/e.ini" 2>"$work/err"
[ $? -eq 0 ] && grep -q "rebuilding it for null:64" "$work/err" && grep -q "(rebuilt)" "$work/err"
ok $? "switching the embedder rebuilds the collections" || sed 's/^/# /' "$work/err"
for c in shapes textures; do
    "$embsync" search -c "$work/e.ini" --collection "$c" --text "anything" -k 1000 2>/dev/null |
        "$PYTHON3" "$top_srcdir/tests/integration/store_matches.py" "$work/images/$c" || false
done
ok $? "after the rebuild the stores hold every image again, embedded by the new model"

"$embsync" search -c "$work/e.ini" --collection shapes 2>/dev/null
[ $? -eq 2 ]
ok $? "search without a query exits 2"

done_testing
