#!/bin/sh
# embsync-plugin-check over every in-tree plugin (the remote ones against
# their emulators), and over plugins broken on purpose, which it must
# fail on the checks that catch them.
set -u
. "$top_srcdir/tests/integration/tap.sh"
. "$top_srcdir/tests/emulators/emulator.sh"

work=$(mktemp -d)
trap 'stop_emulators; rm -rf "$work"' EXIT
check="$top_builddir/embsync-plugin-check"
mods="$top_builddir/plugins/.libs"
emus="$top_srcdir/tests/emulators"
export EMBSYNC_RETRY_SCALE=0.02

# run NAME MODULE [CONFIG-LINES]: the checker must pass every check.
run() {
    _name=$1 _module=$2
    shift 2
    printf '%s\n' "$@" >"$work/$_name.ini"
    "$check" --tap -c "$work/$_name.ini" "$_module" >"$work/$_name.out" 2>"$work/$_name.err"
    _rc=$?
    sed 's/^/# /' "$work/$_name.out"
    [ $_rc -eq 0 ] || sed 's/^/# stderr: /' "$work/$_name.err"
    ok $_rc "$_name passes the conformance checks"
}

# all_but CHECK NAME MODULE [CONFIG-LINES]: every check passes except
# CHECK, which fails (a known limit of the backend, reported as it is).
all_but() {
    _known=$1 _name=$2 _module=$3
    shift 3
    printf '%s\n' "$@" >"$work/$_name.ini"
    "$check" --tap -c "$work/$_name.ini" "$_module" >"$work/$_name.out" 2>"$work/$_name.err"
    _rc=$?
    sed 's/^/# /' "$work/$_name.out"
    [ $_rc -eq 1 ] && grep -q "^not ok [0-9]* - $_known:" "$work/$_name.out" &&
        [ "$(grep -c '^not ok' "$work/$_name.out")" -eq 1 ]
    ok $? "$_name passes the conformance checks but $_known"
}

# fails NAME MODULE CHECK...: exit 1, and each named check reported failed.
fails() {
    _name=$1 _module=$2
    shift 2
    "$check" --tap "$_module" >"$work/$_name.out" 2>&1
    _rc=$?
    sed 's/^/# /' "$work/$_name.out"
    ok $([ $_rc -eq 1 ]; echo $?) "$_name is refused (exit 1, got $_rc)"
    for _c in "$@"; do
        grep -q "^not ok [0-9]* - $_c:" "$work/$_name.out"
        ok $? "$_name fails $_c"
    done
}

cp -R "$top_srcdir/samples" "$work/images"
chmod -R u+w "$work/images"
run dir "$mods/dir.so" "[source]" "root = $work/images"
run descriptor "$mods/descriptor.so"
run faiss-local "$mods/faiss-local.so"
run null "$mods/null.so"
# The same embedder as a plugin built against ABI 1.1 declares itself.
run null-abi-1.1 "$top_builddir/tests/abi/.libs/null_v1_1.so"

start_emulator qd "$emus/qdrant/qdrant_emulator.py" --api-key qd-key-123456
run qdrant "$mods/qdrant.so" "[store]" "url = http://127.0.0.1:$qd_port" \
    "api_key = qd-key-123456" "collection_prefix = check_"

start_emulator clip "$emus/clip/clip_emulator.py"
# CLIP-as-service flattens every image with PIL's convert("RGB"), which
# drops alpha (its emulator does the same): a shape drawn only in alpha is
# lost on the way, and the checker says so.
all_but embedder/alpha clip "$mods/clip.so" "[embedder]" "url = http://127.0.0.1:$clip_port" "batch_size = 4"

start_emulator sly "$emus/supervisely/supervisely_emulator.py" --token sly-token-123456 \
    --fixture "$top_srcdir/tests/supervisely/fixture.json"
run supervisely "$mods/supervisely.so" "[source]" "server = http://127.0.0.1:$sly_port" \
    "token = sly-token-123456" "page_size = 5"
grep -q '"42"' "$work/supervisely.out"
ok $? "supervisely: the checker exercised a project with AI Search on"

# A source pass cut short: changes() must return the status emit() gave.
"$check" --tap -c "$work/supervisely.ini" -C 47 -n 30 "$mods/supervisely.so" \
    >"$work/sly-stop.out" 2>&1
ok $? "supervisely: a pass stopped after 30 of 400 changes still passes"
grep -q "^ok [0-9]* - source/changes-stop:" "$work/sly-stop.out"
ok $? "supervisely: changes() returns emit()'s stop status"

# No secret reaches the checker's output either.
! grep -q "sly-token-123456\|qd-key-123456" "$work"/*.out "$work"/*.err
ok $? "no token appears in the checker's output"

fails bad-embedder "$top_builddir/tests/checker/.libs/bad_embedder.so" \
    embedder/inputs-distinct embedder/undecodable-item
fails bad-store "$top_builddir/tests/checker/.libs/bad_store.so" \
    store/upsert-replace store/remove store/search-ranking store/persistence \
    store/list-ids store/list-ids-start store/list-ids-missing store/contains \
    store/contains-missing store/alias-get-missing store/alias-set-plain \
    store/alias-repoint store/alias-set-missing-target store/alias-drop
fails forgetful-source "$top_builddir/tests/checker/.libs/forgetful_source.so" \
    source/exists source/items-resets-nothing
fails bad-source "$top_builddir/tests/checker/.libs/bad_source.so" \
    source/acked-not-repeated source/begin-end-balanced source/items \
    source/exists-gone

# A module the loader refuses is a failed check, not a crash.
"$check" --tap "$top_builddir/tests/abi/.libs/mod_major.so" >"$work/major.out" 2>&1
rc=$?
sed 's/^/# /' "$work/major.out"
[ $rc -eq 1 ] && grep -q "^not ok 1 - module/load: .*mod_major" "$work/major.out"
ok $? "a module built for another ABI major fails module/load, naming the file"

"$check" --tap /nonexistent/plugin.so >/dev/null 2>&1
ok $([ $? -eq 1 ]; echo $?) "a missing module fails"
"$check" >/dev/null 2>&1
ok $([ $? -eq 2 ]; echo $?) "no module given is a usage error (exit 2)"

done_testing
