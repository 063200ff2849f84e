#!/bin/sh
# The built unit, as systemd reads it: `systemd-analyze verify` accepts it,
# and `systemd-analyze security` rates it at most 2.0.  The package test
# (tests/package/deb.sh) does the same on the installed unit.
set -u
. "$top_srcdir/tests/integration/tap.sh"

if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "1..0 # SKIP systemd-analyze not installed (Debian package systemd)"
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
unit="$top_builddir/contrib/embsync.service"
[ -f "$unit" ] || make -C "$top_builddir" contrib/embsync.service >/dev/null
# The unit's ExecStart names the installed binary; point it at the built
# one so verify finds an executable.
sed "s|^ExecStart=[^ ]*/embsync |ExecStart=$top_builddir/embsync |" "$unit" \
    >"$work/embsync.service"

grep -q '^ExecStart=.* -c /.*/embsync/embsync.ini$' "$unit"
ok $? "ExecStart reads the configuration below sysconfdir"
systemd-analyze verify --man=no "$work/embsync.service" >"$work/verify" 2>&1
ok $? "systemd-analyze verify accepts the unit" || sed 's/^/# /' "$work/verify"
for key in Type=notify RestartPreventExitStatus=2 DynamicUser=yes \
    StateDirectory=embsync MemoryDenyWriteExecute=yes; do
    grep -q "^$key$" "$unit"
    ok $? "the unit sets $key"
done
systemd-analyze security --offline=yes "$work/embsync.service" >"$work/security" 2>&1
score=$(sed -n 's/.*Overall exposure level for embsync.service: \([0-9.]*\).*/\1/p' "$work/security")
echo "# $(grep 'Overall exposure' "$work/security")"
[ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'
ok $? "systemd-analyze security rates it at most 2.0 (got ${score:-nothing})" ||
    sed 's/^/# /' "$work/security" | grep -v '✓'

done_testing
