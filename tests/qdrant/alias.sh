#!/bin/sh
# The qdrant store's aliases against the Qdrant emulator: the checker's
# store/alias-* checks, every exchange of them validated against
# qdrant-openapi.json, each switch one POST /collections/aliases holding a
# single create_alias action, and the first switch over a plain collection
# a DELETE followed at once by that POST; and on a server without
# collection metadata (1.15), ensure() through an alias finds the model
# record the plugin keeps for the alias's target.
set -u
. "$top_srcdir/tests/integration/tap.sh"
. "$top_srcdir/tests/emulators/emulator.sh"

work=$(mktemp -d)
trap 'stop_emulators; rm -rf "$work"' EXIT
emu="$top_srcdir/tests/emulators/qdrant/qdrant_emulator.py"
spec="$top_srcdir/tests/emulators/qdrant/qdrant-openapi.json"
export EMBSYNC_RETRY_SCALE=0.02
record="$work/exchanges.jsonl"

start_emulator qd "$emu" --record "$record"
printf '[store]\nurl = http://127.0.0.1:%s\ncollection_prefix = a_\n' "$qd_port" >"$work/q.ini"
"$top_builddir/embsync-plugin-check" --tap -c "$work/q.ini" \
    "$top_builddir/plugins/.libs/qdrant.so" >"$work/check.out" 2>"$work/check.err"
ok $? "the qdrant store passes the conformance checks" || sed 's/^/# /' "$work/check.out" "$work/check.err"
[ "$(grep -c '^ok [0-9]* - store/alias-' "$work/check.out")" -ge 10 ]
ok $? "the store/alias-* checks ran and passed"
grep -q "is a plain collection and Qdrant forbids an alias" "$work/check.err" "$work/check.out"
ok $? "the first switch over a plain collection says so in the log"

"$PYTHON3" "$top_srcdir/tests/emulators/qdrant/contract.py" "$spec" "$record" >"$work/contract.out"
ok $? "every exchange validates against qdrant-openapi.json"
sed 's/^/# /' "$work/contract.out"
grep -q "POST /collections/aliases -> 200" "$work/contract.out" &&
    grep -q "GET /aliases -> 200" "$work/contract.out"
ok $? "the alias routes were among the validated exchanges"

"$PYTHON3" - "$record" <<'PY'
import json, sys
ex = [json.loads(l) for l in open(sys.argv[1])]
posts = [i for i, e in enumerate(ex) if e["method"] == "POST" and e["path"] == "/collections/aliases"]
assert posts, "no alias change"
for i in posts:
    acts = ex[i]["request"]["actions"]
    assert len(acts) == 1 and list(acts[0]) == ["create_alias"], acts
ok = [i for i in posts if ex[i]["status"] == 200]
first = ok[0]
prev = ex[first - 1]
assert prev["method"] == "DELETE" and prev["path"] == "/collections/a_plugin-check-alias" \
    and prev["response"]["result"] is True, prev
assert ex[first]["request"]["actions"][0]["create_alias"] == {
    "alias_name": "a_plugin-check-alias", "collection_name": "a_plugin-check-alias-x"}, ex[first]
# The repoint: no DELETE of the alias's name, no delete_alias.
second = ok[1]
assert ex[second - 1]["method"] != "DELETE", ex[second - 1]
assert ex[second]["request"]["actions"][0]["create_alias"]["collection_name"] == "a_plugin-check-alias-y"
# Dropping the alias deletes its target, not the alias's own name.
dels = [e["path"] for e in ex if e["method"] == "DELETE" and e.get("response", {}).get("result") is True]
assert "/collections/a_plugin-check-alias-y" in dels, dels
PY
ok $? "each switch is one create_alias; the first is DELETE then create back to back; drop deletes the target"

stop_emulators
start_emulator old "$emu" --version 1.15.0
printf '[store]\nurl = http://127.0.0.1:%s\ncollection_prefix = a_\n' "$old_port" >"$work/old.ini"
"$top_builddir/embsync-plugin-check" --tap -c "$work/old.ini" \
    "$top_builddir/plugins/.libs/qdrant.so" >"$work/old.out" 2>"$work/old.err"
ok $? "on Qdrant 1.15 (model record in a local file) the store passes the checks" ||
    sed 's/^/# /' "$work/old.out" "$work/old.err"
grep -q '^ok [0-9]* - store/alias-ensure:' "$work/old.out"
ok $? "on Qdrant 1.15 ensure() through an alias finds its target's model record"

done_testing
