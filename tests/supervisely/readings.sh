#!/bin/sh
# The supervisely source under the four readings of the two points the API
# reference leaves open (does showDisabled list the disabled images only or
# all; does changing an image null its embeddingsUpdatedAt), with pages
# capped below per_page by a cap that changes between calls.  For each:
# the initial sync, adds/modifies/deletes, a change made during a run (just
# before the project stamp is written) and faults, with the runs each took
# to converge.  Added, modified and deleted images must be right after ONE
# run; a change made during a run must be caught by the next one.
set -u
. "$top_srcdir/tests/integration/tap.sh"
. "$top_srcdir/tests/emulators/emulator.sh"
. "$top_srcdir/tests/supervisely/lib.sh"

work=$(mktemp -d)
trap 'stop_emulators; rm -rf "$work"' EXIT
emu="$top_srcdir/tests/emulators/supervisely/supervisely_emulator.py"
embsync="$top_builddir/embsync"
ini="$work/s.ini"
export EMBSYNC_RETRY_SCALE=0.02
token="sly-api-token-$(date +%s)"
printf '%s\n' "$token" >"$work/token"

for show in include only; do
for clears in no yes; do
    reading="showDisabled=$show, change-nulls-stamp=$clears"
    flag=""
    [ "$clears" = yes ] && flag=--modify-clears-stamp
    start_emulator sly "$emu" --token "$token" --show-disabled "$show" $flag \
        --fixture "$top_srcdir/tests/supervisely/readings.json"
    base="http://127.0.0.1:$sly_port"
    rm -rf "$work/state" "$work/probe.jpg"
    cat >"$ini" <<INI
[core]
state_dir = $work/state
plugin_path = $top_builddir/plugins
batch_size = 8
[source]
plugin = supervisely
server = $base
token_file = $work/token
page_size = 10
download_concurrency = 4
[embedder]
plugin = descriptor
[store]
plugin = faiss-local
INI
    # A server-side cap below per_page = 10, different from one call to the next.
    sly_control settings '{"page_cap": [3, 7, 2]}' >/dev/null

    initial=$(sly_converge 42 48)
    [ "$initial" -eq 1 ]
    ok $? "$reading: the initial sync of 85 images, in pages of 2-7, is right after one run" ||
        sed 's/^/# /' "$work/synced.out"

    # 7 added, 4 modified, 3 deleted, and one added then deleted before it
    # was ever embedded.
    sly_control images '{"add": {"project": 42, "count": 4, "dataset": 8}}' >/dev/null
    sly_control images '{"add": {"project": 48, "count": 3, "dataset": 9}}' >/dev/null
    gone=$(sly_control images '{"add": {"project": 42, "count": 1}}' |
        "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)["added"][0])')
    sly_control images "{\"modify\": [1000003, 1000017, 1000044, 1000070],
                         \"delete\": [1000005, 1000030, 1000061, $gone]}" >/dev/null
    mutated=$(sly_converge 42 48)
    [ "$mutated" -eq 1 ]
    ok $? "$reading: added, modified and deleted images are right after one run" ||
        sed 's/^/# /' "$work/synced.out"

    # Changes while the run is in progress, after its listings: at its first
    # acknowledgement (1000020's, the one change pending) one image is
    # modified and another deleted, and two more just before project 42's
    # stamp is written.
    sly_control hooks '{"add": [{"match": "images.embeddings-updated-at.update",
                                 "modify": [1000012], "delete": [1000013]},
                                {"match": "projects.editInfo", "body_has": "embeddingsUpdatedAt",
                                 "modify": [1000010], "delete": [1000011]}]}' >/dev/null
    sly_control images '{"modify": [1000020]}' >/dev/null
    during=$(sly_converge 42 48)
    [ "$during" -eq 2 ]
    ok $? "$reading: images modified and deleted during a run are caught by the next run" ||
        sed 's/^/# /' "$work/synced.out"

    # Faults: 5xx and 429 retried, a download failing twice, and the cap
    # moving to 1 image per page at times.
    sly_control images '{"add": {"project": 42, "count": 3}, "modify": [1000001, 1000072], "delete": [1000002]}' >/dev/null
    sly_control settings '{"page_cap": [2, 5, 1, 3]}' >/dev/null
    sly_control faults '{"add": [{"match": "^images.list$", "status": 503, "remaining": 2},
                                 {"match": "images.embeddings-updated-at.update", "status": 500, "remaining": 2},
                                 {"match": "projects.list.all", "status": 429, "retry_after": 1, "remaining": 1},
                                 {"match": "previews", "status": 500, "remaining": 2}]}' >/dev/null
    faults=$(sly_converge 42 48)
    [ "$faults" -ge 1 ] && [ "$faults" -le 2 ]
    ok $? "$reading: with faults injected it converges ($faults run(s))" ||
        sed 's/^/# /' "$work/synced.out"

    : >"$work/once.log"
    "$embsync" once -c "$ini" >"$work/once.log" 2>&1
    grep -q "collection 42: 0 embedded, 0 deleted" "$work/once.log" &&
        grep -q "collection 48: 0 embedded, 0 deleted" "$work/once.log"
    ok $? "$reading: a converged project has nothing to do on the next run" ||
        sed 's/^/# /' "$work/once.log"
    sly_fields_asked "'upsert', 'gone', 'exists', 'clock'"
    ok $? "$reading: every images.list asks for the fields its listing reads, and only those"
    printf '# runs to converge | %-45s | initial %s | mutated %s | during a run %s | faults %s\n' \
        "$reading" "$initial" "$mutated" "$during" "$faults" >>"$work/table"
    stop_emulators
done
done
cat "$work/table"

# The plugin reads only the fields it asks for: with a server answering
# just those (and one refusing names it does not know), the sync is as
# right as with every field there.
for fields in honour strict; do
    start_emulator sly "$emu" --token "$token" --fields "$fields" \
        --fixture "$top_srcdir/tests/supervisely/readings.json"
    base="http://127.0.0.1:$sly_port"
    rm -rf "$work/state" "$work/probe.jpg"
    sed -i "s|^server = .*|server = $base|" "$ini"
    if [ "$fields" = strict ]; then
        curl -s -H "x-api-key: $token" "$base/public/api/v3/images.list" \
            -d '{"projectId": 42, "fields": ["id", "imageUrl"]}' -w '\n%{http_code}' >"$work/bogus"
        "$PYTHON3" -c 'import json,sys; b, code = open(sys.argv[1]).read().rsplit("\n", 1)
assert code == "400" and json.loads(b)["details"]["message"], (code, b)' "$work/bogus"
        ok $? "fields=strict: a name outside the reference's list is a 400 with the API's error body"
    fi
    first=$(sly_converge 42 48)
    sly_control images '{"add": {"project": 42, "count": 2, "dataset": 8}}' >/dev/null
    sly_control images '{"modify": [1000003, 1000050], "delete": [1000007, 1000060]}' >/dev/null
    second=$(sly_converge 42 48)
    sly_check "assert S['fields_trimmed'] > 0, S['fields_trimmed']"
    trimmed=$?
    [ "$first" -eq 1 ] && [ "$second" -eq 1 ] && [ "$trimmed" -eq 0 ]
    ok $? "fields=$fields: with only the fields asked for in the answers, the sync and its changes are right after one run each" ||
        sed 's/^/# /' "$work/synced.out"
    stop_emulators
done
done_testing
