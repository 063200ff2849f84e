#!/bin/sh
# The supervisely source's ABI 1.2 operations and its durable marks:
# exists() answers 0 for a disabled image, stamped or never stamped, under
# both readings of showDisabled, paging its `id in` listing; items() streams
# every enabled image with the ref, version and payload changes() gives;
# a reset survives a restart between the reset and the end of the run (the
# next run lists every image again, until one completes); the original
# service's autorestart record is resumed first, once, then reset to {}.
set -u
. "$top_srcdir/tests/integration/tap.sh"
. "$top_srcdir/tests/emulators/emulator.sh"
. "$top_srcdir/tests/supervisely/lib.sh"

work=$(mktemp -d)
trap 'stop_emulators; rm -rf "$work"' EXIT
embsync="$top_builddir/embsync"
ops="$top_builddir/tests/supervisely/sly_ops"
ini="$work/s.ini"
export EMBSYNC_RETRY_SCALE=0.02
token="sly-api-token-$(date +%s)"
printf '%s\n' "$token" >"$work/token"
start_emulator sly "$top_srcdir/tests/emulators/supervisely/supervisely_emulator.py" \
    --token "$token" --fixture "$top_srcdir/tests/supervisely/readings.json"
base="http://127.0.0.1:$sly_port"
write_ini() { # $1 = extra source lines
    cat >"$ini" <<INI
[core]
state_dir = $work/state
plugin_path = $top_builddir/plugins
[source]
plugin = supervisely
server = $base
token_file = $work/token
page_size = 10
$1
[embedder]
plugin = descriptor
[store]
plugin = faiss-local
INI
}
write_ini ""
sly() { "$ops" "$work/state" server="$base" token_file="$work/token" page_size=10 -- "$@"; }
sly_control settings '{"page_cap": 3}' >/dev/null

"$embsync" once -c "$ini" >"$work/once.log" 2>&1 && sly_synced 42 48
ok $? "initial sync" || sed 's/^/# /' "$work/synced.out"

# exists(): one enabled image, one stamped then disabled, one disabled before
# it was ever stamped, an id that never existed, another project's image.
never=$(sly_control images '{"add": {"project": 42, "count": 1}}' |
    "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)["added"][0])')
sly_control images "{\"delete\": [1000004, $never]}" >/dev/null
# One entity per page from here: every list needs as many pages as entities.
sly_control settings '{"page_cap": 1}' >/dev/null
[ "$(sly list 2>"$work/ops.err" | tr '\n' ' ')" = "42 48 " ]
ok $? "projects listed one per page: both, in order, none twice" || sed 's/^/# /' "$work/ops.err"
for show in include only; do
    sly_control settings "{\"show_disabled\": \"$show\"}" >/dev/null
    sly exists 42 1000000 1000004 "$never" 999 1000065 1000059 >"$work/exists.out" 2>"$work/ops.err"
    [ "$(tr '\n' ' ' <"$work/exists.out")" = "1 0 0 0 0 1 " ]
    ok $? "exists() with showDisabled=$show: enabled 1, disabled (stamped or not) 0, unknown 0, other project's 0" ||
        sed 's/^/# /' "$work/exists.out" "$work/ops.err"
done
sly_control settings '{"show_disabled": "include", "page_cap": 3}' >/dev/null

# items(): every enabled image of 42 (60 - 1 disabled), as changes() gives it.
sly items 42 >"$work/items.out" 2>"$work/ops.err"
sly_dump 42
sly_state
"$PYTHON3" - "$work" <<'PY' >"$work/items.check" 2>&1
import json, sys
work = sys.argv[1]
S = json.load(open(work + "/state.json"))
enabled = {int(k): v for k, v in S["images"].items() if v["projectId"] == 42 and not v["disabled"]}
items = {}
for line in open(work + "/items.out"):
    i, version, payload = line.rstrip("\n").split("\t", 2)
    assert int(i) not in items, ("twice", i)
    items[int(i)] = (version, json.loads(payload))
assert set(items) == set(enabled), (sorted(set(enabled) ^ set(items))[:5])
stored = {int(l.split("\t")[2]): json.loads(l.rstrip("\n").split("\t", 3)[3])
          for l in open(work + "/dump.42") if l.strip()}
for i, (version, payload) in items.items():
    assert version == enabled[i]["updatedAt"], (i, version)
    assert sorted(payload) == ["cas_url", "dataset_id", "full_url", "updated_at"], payload
    assert payload == stored[i], (i, payload, stored.get(i))
PY
ok $? "items() streams the 59 enabled images, with the version and payload changes() gave" ||
    sed 's/^/# /' "$work/items.check" "$work/ops.err"
"$embsync" once -c "$ini" >"$work/once.log" 2>&1 && sly_synced 42 48
ok $? "the disabled images' vectors go on the next run" || sed 's/^/# /' "$work/synced.out"

# A reset, then the process stops before the run ends (a kill in the
# rebuild pass); the store collection is empty, as the rebuild left it.
sly begin-reset 42 >/dev/null 2>"$work/ops.err"
ok $? "list, begin, reset, then exit without end()" || sed 's/^/# /' "$work/ops.err"
[ -e "$work/state/source-supervisely/reset-42" ]
ok $? "the reset is on disk"
rm -rf "$work/state/store-faiss-local/42"
"$embsync" once -c "$ini" >"$work/once.log" 2>&1
grep -q "project 42: resuming our run cut short" "$work/once.log" &&
    grep -q "collection 42: 59 embedded" "$work/once.log" && sly_synced 42
ok $? "after the restart the run lists every image again: the rebuilt collection is whole" ||
    sed 's/^/# /' "$work/once.log" "$work/synced.out"
[ ! -e "$work/state/source-supervisely/reset-42" ]
ok $? "the completed run clears the reset"
"$embsync" once -c "$ini" >"$work/once.log" 2>&1
grep -q "collection 42: 0 embedded, 0 deleted" "$work/once.log"
ok $? "and the next run is back to changes only" || sed 's/^/# /' "$work/once.log"

# A run that fails after the reset keeps it for the next run.
sly begin-reset 42 >/dev/null 2>"$work/ops.err"
rm -rf "$work/state/store-faiss-local/42"
sly_control faults '{"add": [{"match": "images.embeddings-updated-at.update", "status": 400, "remaining": 1}]}' >/dev/null
"$embsync" once -c "$ini" >"$work/once.log" 2>&1
first=$?
[ -e "$work/state/source-supervisely/reset-42" ] && [ $first -ne 0 ]
ok $? "a failed run keeps the reset" || sed 's/^/# /' "$work/once.log"
"$embsync" once -c "$ini" >"$work/once.log" 2>&1 && sly_synced 42 &&
    [ ! -e "$work/state/source-supervisely/reset-42" ]
ok $? "the run after it lists everything again and completes the collection" ||
    sed 's/^/# /' "$work/once.log" "$work/synced.out"

# The original's autorestart record names project 48, left in progress by
# the original with its stamp; 48 gets 2 new images.
record="$work/current_project.json"
printf '{"project_id": 48}' >"$record"
write_ini "autorestart_file = $record"
sly_control projects '{"48": {"embeddingsInProgress": true,
    "customData": {"embeddings_update_started_at": "2999-01-01T00:00:00.000000Z"}}}' >/dev/null
sly_control images '{"add": {"project": 48, "count": 2, "dataset": 9}}' >/dev/null
"$embsync" once -c "$ini" >"$work/once.log" 2>&1
ok $? "a pass with the autorestart record exits 0" || sed 's/^/# /' "$work/once.log"
grep -q "project 48: resuming the run the autorestart record names" "$work/once.log" &&
    grep -n "collection 4[28]:" "$work/once.log" | head -n 1 | grep -q "collection 48: 2 embedded" &&
    sly_synced 42 48
ok $? "the project it names is taken back, synced first" || sed 's/^/# /' "$work/once.log" "$work/synced.out"
[ "$(cat "$record")" = "{}" ]
ok $? "the record is reset to {} after that run"
"$embsync" once -c "$ini" >"$work/once.log" 2>&1
! grep -q "autorestart" "$work/once.log" && grep -q "collection 48: 0 embedded" "$work/once.log"
ok $? "only once: the next pass does not resume it again" || sed 's/^/# /' "$work/once.log"
printf '{"project_id": 999}' >"$record"
"$embsync" once -c "$ini" >"$work/once.log" 2>&1 &&
    grep -q "project 999 from the autorestart record no longer exists; not resumed" "$work/once.log" &&
    [ "$(cat "$record")" = "{}" ]
ok $? "a record naming a project that no longer exists is reset, and the pass goes on" ||
    sed 's/^/# /' "$work/once.log"
printf 'not json' >"$record"
"$embsync" once -c "$ini" >"$work/once.log" 2>&1 && [ "$(cat "$record")" = "not json" ]
ok $? "an unreadable record means nothing to resume, as in the original"

# A server that ignores the id cursor answers the same page again: reported,
# never looped on.
sly_control settings '{"ignore_id_cursor": true}' >/dev/null
sly_control images '{"add": {"project": 42, "count": 5}}' >/dev/null
timeout 60 "$embsync" once -c "$ini" >"$work/once.log" 2>&1
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "collection 42: .*the server ignored the id cursor" "$work/once.log"
ok $? "a server ignoring the id cursor fails the project with the reason, at once" || sed 's/^/# /' "$work/once.log"
done_testing
