#!/bin/sh
# The Debian packages, as an operator gets them: build with
# dpkg-buildpackage, install, check the unit, run `embsync check` and
# `embsync once` with the installed local configuration on a folder of
# images, then purge and compare what is left with what was there before.
# It installs and removes system packages: run it as root on a machine of
# its own (.ci/run does), never from `make check`.  Ends with
# "N passed, N failed" like scripts/test.
set -u
cd "$(dirname "$0")/../.."
top=$(pwd)
. "$top/tests/integration/tap.sh"

if [ "$(id -u)" -ne 0 ]; then
    echo "tests/package/deb.sh: run as root (it installs packages)" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
work=$(mktemp -d /tmp/embsync-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
export DEBIAN_FRONTEND=noninteractive
finish() {
    echo "1..$tap_n"
    echo "$((tap_n - tap_failed)) passed, $tap_failed failed"
    [ "$tap_failed" -eq 0 ]
    exit
}

# Every path of ours the package could leave behind.
snapshot() {
    find /etc /var /usr /lib /srv /opt -xdev \
        \( -path /var/cache -o -path /var/log -o -path /var/tmp -o \
           -path /var/lib/apt -o -path /var/lib/dpkg \) -prune -o \
        -name '*embsync*' -print 2>/dev/null | sort
}

# --- build ------------------------------------------------------------------
apt-get update -qq >/dev/null 2>&1
apt-get install -y -qq --no-install-recommends dpkg-dev debhelper \
    dh-autoreconf fakeroot >"$work/apt.log" 2>&1
ok $? "debhelper, dh-autoreconf and dpkg-dev are installed" || tail -5 "$work/apt.log"
ver=$(dpkg-parsechangelog -l debian/changelog -S Version)
src="$work/embsync-$ver"
mkdir -p "$src"
# The tracked files alone, as a fresh clone has them (with local edits).
git ls-files -z | xargs -0 cp --parents -t "$src" 2>"$work/copy.err" ||
    { cat "$work/copy.err" >&2; }
missing=$(cd "$src" && dpkg-checkbuilddeps -Pnocheck 2>&1 |
    sed -n 's/.*Unmet build dependencies: //p' | sed 's/([^)]*)//g')
if [ -n "$missing" ]; then
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >>"$work/apt.log" 2>&1
fi
(cd "$src" && dpkg-checkbuilddeps -Pnocheck)
ok $? "the build dependencies are satisfied"

start=$(date +%s)
(cd "$src" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
    dpkg-buildpackage -us -uc -b -Pnocheck) >"$work/build.log" 2>&1
ok $? "dpkg-buildpackage -us -uc -b builds in $(($(date +%s) - start)) s" ||
    { tail -40 "$work/build.log" | sed 's/^/# /'; finish; }
debs=$(ls "$work"/embsync_*.deb "$work"/embsync-dev_*.deb 2>/dev/null)
[ "$(echo "$debs" | wc -l)" -eq 2 ]
ok $? "two packages: embsync and embsync-dev" || finish
for deb in $debs; do
    echo "# $(basename "$deb"): $(stat -c %s "$deb") bytes, installed size $(dpkg-deb -f "$deb" Installed-Size) KiB"
done
! dpkg-deb -c "$work"/embsync_*.deb | grep -q '\.la$'
ok $? "no libtool .la file in the package"
dpkg-deb -c "$work"/embsync_*.deb | awk '{print $6}' >"$work/contents"
for f in ./usr/bin/embsync ./lib/systemd/system/embsync.service \
    ./etc/embsync/embsync.ini ./usr/share/man/man1/embsync.1.gz \
    ./usr/share/man/man5/embsync.ini.5.gz \
    ./usr/share/doc/embsync/examples/embsync.ini \
    ./usr/share/bash-completion/completions/embsync; do
    grep -qx "$f" "$work/contents"
    ok $? "embsync ships $f"
done
grep -q '/embsync/plugins/faiss-local\.so$' "$work/contents"
ok $? "embsync ships the plugins"
dpkg-deb -c "$work"/embsync-dev_*.deb | awk '{print $6}' >"$work/dev-contents"
for f in ./usr/include/embsync/plugin.h ./usr/bin/embsync-plugin-check; do
    grep -qx "$f" "$work/dev-contents"
    ok $? "embsync-dev ships $f"
done
grep -q '/pkgconfig/embsync-plugin\.pc$' "$work/dev-contents"
ok $? "embsync-dev ships embsync-plugin.pc"

# --- install ----------------------------------------------------------------
snapshot >"$work/before"
apt-get install -y -qq --no-install-recommends "$work"/embsync_*.deb \
    "$work"/embsync-dev_*.deb >"$work/install.log" 2>&1
ok $? "apt-get installs both packages" || { tail -20 "$work/install.log"; finish; }

unit=/lib/systemd/system/embsync.service
[ ! -e /etc/systemd/system/multi-user.target.wants/embsync.service ] &&
    [ "$(systemctl is-enabled embsync.service 2>/dev/null)" = disabled ]
ok $? "embsync.service is installed disabled"
grep -qx 'ExecStart=/usr/bin/embsync run -c /etc/embsync/embsync.ini' "$unit"
ok $? "the unit reads /etc/embsync/embsync.ini"
systemd-analyze verify "$unit" >"$work/verify" 2>&1
ok $? "systemd-analyze verify accepts the installed unit (man pages included)" ||
    sed 's/^/# /' "$work/verify"
systemd-analyze security --offline=yes "$unit" >"$work/security" 2>&1
line=$(grep 'Overall exposure level' "$work/security")
echo "# $line"
score=$(echo "$line" | sed -n 's/.*embsync.service: \([0-9.]*\).*/\1/p')
[ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'
ok $? "systemd-analyze security: ${score:-?} (at most 2.0)"
man -w embsync.ini >/dev/null 2>&1 && man -w embsync >/dev/null 2>&1
ok $? "man finds embsync(1) and embsync.ini(5)"
plugindir=$(pkg-config --variable=plugindir embsync-plugin)
[ -n "$plugindir" ] && [ -f "$plugindir/dir.so" ]
ok $? "pkg-config embsync-plugin names the plugin directory (${plugindir:-none})"
embsync-plugin-check --help >/dev/null 2>&1
ok $? "embsync-plugin-check runs"

# The installed local configuration on a folder of images.
created_srv=0
[ -e /srv/embsync ] || created_srv=1
mkdir -p /srv/embsync
cp -R samples/. /srv/embsync/
embsync check >"$work/check.out" 2>&1
ok $? "embsync check (no -c: /etc/embsync/embsync.ini)" || sed 's/^/# /' "$work/check.out"
grep -q '^config /etc/embsync/embsync.ini: ok$' "$work/check.out"
ok $? "check read the installed configuration"
embsync once >"$work/once.out" 2>&1
ok $? "embsync once syncs the folder" || sed 's/^/# /' "$work/once.out"
n=$(find samples -mindepth 1 -maxdepth 1 -type d | wc -l)
[ "$(grep -c 'collection .*: [1-9][0-9]* embedded, 0 deleted, 0 failed' "$work/once.out")" -eq "$n" ]
ok $? "once embedded every one of the $n collections" || sed 's/^/# /' "$work/once.out"
embsync status >"$work/status.out" 2>&1 && [ -d /var/lib/embsync ]
ok $? "the state is in /var/lib/embsync" || sed 's/^/# /' "$work/status.out"

# The installed unit under a real systemd, in a container.
. "$top/tests/package/boot.sh"

# --- purge ------------------------------------------------------------------
[ "$created_srv" -eq 1 ] && rm -rf /srv/embsync
apt-get purge -y -qq embsync embsync-dev >"$work/purge.log" 2>&1
ok $? "apt-get purge removes both" || tail -20 "$work/purge.log"
snapshot >"$work/after"
diff "$work/before" "$work/after" >"$work/left"
ok $? "purge leaves nothing behind (/etc/embsync, /var/lib/embsync, /usr/lib/...)" ||
    sed 's/^/# /' "$work/left"
finish
