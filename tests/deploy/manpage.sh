#!/bin/sh
# embsync.ini(5) is generated from the key tables: it has a subsection for
# every plugin built here with every key `embsync plugins` reports, and it
# renders cleanly.  embsync(1) has the sections an operator looks for.
set -u
. "$top_srcdir/tests/integration/tap.sh"

page="$top_builddir/docs/embsync.ini.5"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
[ -f "$page" ] || make -C "$top_builddir" docs/embsync.ini.5 >/dev/null
! grep -q '^\.SS "plugin = null"$' "$page"
ok $? "test modules (bench's null embedder) are not documented"

# The plugins make install ships (test modules share the directory).
shipped=$(printf 'p:\n\t@echo $(plugin_LTLIBRARIES)\n' |
    make -s --no-print-directory -C "$top_builddir" -f Makefile -f - p |
    tr ' ' '\n' | grep '^plugins/.*\.la$')
[ -n "$shipped" ]
ok $? "the build ships plugins: $(echo $shipped)"
for la in $shipped; do
    name=$(basename "$la" .la)
    grep -qx ".SS \"plugin = $(echo "$name" | sed 's/-/\\\\-/g')\"" "$page"
    ok $? "embsync.ini(5) has a subsection for plugin $name"
done

# The keys of the local configuration's three plugins, as `embsync plugins`
# lists them (names are the first word of the indented key lines).
cat >"$work/embsync.ini" <<INI
[core]
plugin_path = $top_builddir/plugins
[source]
plugin = dir
root = $work
[embedder]
plugin = descriptor
[store]
plugin = faiss-local
INI
"$top_builddir/embsync" plugins -c "$work/embsync.ini" |
    awk '/^         [a-z_]+ +(int|bool|double|string) / { print $1 }' >"$work/keys"
[ -s "$work/keys" ]
ok $? "embsync plugins lists keys"
missing=""
while read -r key; do
    grep -qx ".B $(echo "$key" | sed 's/-/\\\\-/g')" "$page" || missing="$missing $key"
done <"$work/keys"
[ -z "$missing" ]
ok $? "every key embsync plugins lists is documented" || echo "# missing:$missing"
for key in interval state_dir plugin_path batch_size log_level log_format \
    listen control_token control_token_credential stale_after; do
    grep -qx ".B $key" "$page"
    ok $? "[core] $key is documented"
done
grep -q 'required' "$page" && grep -q 'secret' "$page" && grep -q 'default' "$page"
ok $? "types, defaults, required and secret are shown"

if command -v groff >/dev/null 2>&1; then
    for p in "$page" "$top_srcdir/docs/embsync.1"; do
        LC_ALL=C groff -man -ww -z "$p" >"$work/groff" 2>&1 && [ ! -s "$work/groff" ]
        ok $? "$(basename "$p") renders without a groff warning" || sed 's/^/# /' "$work/groff"
    done
fi
for s in SYNOPSIS DESCRIPTION FILES ENVIRONMENT "EXIT STATUS" EXAMPLES "SEE ALSO"; do
    grep -q "^\.SH \"*$s\"*$" "$top_srcdir/docs/embsync.1"
    ok $? "embsync(1) has $s"
done

done_testing
