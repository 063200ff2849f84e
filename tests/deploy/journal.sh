#!/bin/sh
# Logs journald understands: with stderr a journal stream (JOURNAL_STREAM
# names its device and inode) every line starts with its syslog priority;
# log_format = json gives the per-collection counts fields of their own.
set -u
. "$top_srcdir/tests/integration/tap.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -R "$top_srcdir/samples" "$work/images"
chmod -R u+w "$work/images"
# An undecodable image, so the pass logs a warning beside its info lines.
printf 'not a jpeg' >"$work/images/$(ls "$work/images" | head -n 1)/broken.jpg"
write_ini() { # $1 = log_format
    cat >"$work/embsync.ini" <<INI
[core]
state_dir = $work/state-$1
plugin_path = $top_builddir/plugins
log_format = $1
[source]
plugin = dir
root = $work/images
[embedder]
plugin = descriptor
[store]
plugin = faiss-local
INI
}

# stderr is the file; JOURNAL_STREAM names that file.
write_ini text
: >"$work/journal.log"
JOURNAL_STREAM=$(stat -c '%d:%i' "$work/journal.log") \
    "$top_builddir/embsync" once -c "$work/embsync.ini" 2>>"$work/journal.log"
ok $? "once succeeds with stderr as the journal stream" || sed 's/^/# /' "$work/journal.log"
! grep -qv '^<[3467]>' "$work/journal.log"
ok $? "every line starts with a priority prefix" || sed 's/^/# /' "$work/journal.log"
grep -q '^<6>collection .*: [0-9]* embedded' "$work/journal.log"
ok $? "the per-collection summary is at <6> (info)" || sed 's/^/# /' "$work/journal.log"
grep -q '^<4>.*broken.jpg\|^<4>.*item [0-9]*: .*failed' "$work/journal.log"
ok $? "the failed item is at <4> (warning)" || sed 's/^/# /' "$work/journal.log"
! grep -q '^<[0-9]>[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T' "$work/journal.log"
ok $? "no time stamp of our own: the journal stamps each line"

# A configuration error, still before any log setting is read.
printf '[core]\ninterval = never\n' >"$work/broken.ini"
: >"$work/broken.log"
JOURNAL_STREAM=$(stat -c '%d:%i' "$work/broken.log") \
    "$top_builddir/embsync" check -c "$work/broken.ini" 2>>"$work/broken.log"
grep -q '^<3>embsync: .*interval' "$work/broken.log"
ok $? "a configuration error is at <3> (error)" || sed 's/^/# /' "$work/broken.log"

# JOURNAL_STREAM inherited, but stderr redirected elsewhere: no prefixes.
rm -rf "$work/state-text"
JOURNAL_STREAM=$(stat -c '%d:%i' "$work/embsync.ini") \
    "$top_builddir/embsync" once -c "$work/embsync.ini" 2>"$work/plain.log"
! grep -q '^<[0-9]>' "$work/plain.log" &&
    grep -q '^[0-9-]*T[0-9:.]*Z info ' "$work/plain.log"
ok $? "a stderr that is not the journal stream gets plain stamped lines" ||
    sed 's/^/# /' "$work/plain.log"

write_ini json
"$top_builddir/embsync" once -c "$work/embsync.ini" 2>"$work/json.log"
"$PYTHON3" - "$work/json.log" "$work/images" <<'PY'
import json, os, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
runs = [l for l in lines if "embedded" in l]
names = sorted(d for d in os.listdir(sys.argv[2])
               if os.path.isdir(os.path.join(sys.argv[2], d)))
assert sorted(r["collection"] for r in runs) == names, runs
for r in runs:
    for k in ("embedded", "deleted", "failed", "deferred", "waiting"):
        assert isinstance(r[k], int) and r[k] >= 0, (k, r)
    assert isinstance(r["duration"], float) or isinstance(r["duration"], int), r
    assert r["status"] == "ok" and r["level"] == "info", r
    assert ("%d embedded" % r["embedded"]) in r["msg"], r
assert sum(r["failed"] for r in runs) == 1, runs
assert sum(r["embedded"] for r in runs) > 0, runs
PY
ok $? "log_format = json: embedded, deleted, failed, deferred, waiting, duration and collection are fields" ||
    sed 's/^/# /' "$work/json.log"

done_testing
