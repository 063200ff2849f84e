#!/bin/sh
# The qdrant store's list_ids() and contains() (ABI 1.2) against the Qdrant
# emulator under each reading the reference leaves open: records read
# without payload or vector come back with those keys omitted or null, and a
# server may cap a scroll page below the limit asked.  The requests ask for
# neither payloads nor vectors, stay at most 1024 ids each, and validate
# against qdrant-openapi.json.
set -u
. "$top_srcdir/tests/integration/tap.sh"
. "$top_srcdir/tests/emulators/emulator.sh"

work=$(mktemp -d)
trap 'stop_emulators; rm -rf "$work"' EXIT
emu="$top_srcdir/tests/emulators/qdrant/qdrant_emulator.py"
spec="$top_srcdir/tests/emulators/qdrant/qdrant-openapi.json"
record="$work/exchanges.jsonl"
export EMBSYNC_RETRY_SCALE=0.02 CMOCKA_MESSAGE_OUTPUT=TAP

for reading in "--absent-fields omit" "--absent-fields null" "--scroll-cap 300"; do
    # shellcheck disable=SC2086 # the reading is two words on purpose
    start_emulator qd "$emu" --record "$record" $reading
    QDRANT_URL="http://127.0.0.1:$qd_port" "$top_builddir/tests/plugins/test_qdrant_ids" \
        >"$work/ids.tap" 2>&1
    rc=$?
    sed 's/^/# /' "$work/ids.tap"
    ok $rc "list_ids, contains and search ids are exact with $reading"
    stop_emulators
done

"$PYTHON3" - "$record" <<'PY'
import json, sys
scrolls = retrieves = 0
for line in open(sys.argv[1]):
    ex = json.loads(line)
    body = ex.get("request") or {}
    if ex["path"].endswith("/points/scroll"):
        scrolls += 1
        assert body["with_payload"] is False and body["with_vector"] is False, body
        assert 1 <= body["limit"] <= 1024, body
    elif ex["method"] == "POST" and ex["path"].endswith("/points"):
        retrieves += 1
        assert body["with_payload"] is False and body["with_vector"] is False, body
        assert 1 <= len(body["ids"]) <= 1024, len(body["ids"])
assert scrolls > 0 and retrieves > 0, (scrolls, retrieves)
print(f"# {scrolls} scroll and {retrieves} retrieve requests checked")
PY
ok $? "scroll and retrieve ask for no payload and no vector, at most 1024 ids a request"

"$PYTHON3" "$top_srcdir/tests/emulators/qdrant/contract.py" "$spec" "$record" >"$work/contract.tap"
rc=$?
sed 's/^/# /' "$work/contract.tap"
ok $rc "every request and response exchanged validates against qdrant-openapi.json"

done_testing
