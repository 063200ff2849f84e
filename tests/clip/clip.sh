#!/bin/sh
# The clip embedder against the CLIP-as-service emulator: dir -> clip ->
# faiss-local through `embsync once`, readiness wait, ids matched, text
# search, a bad image isolated by bisection, faults retried or reported, a
# model change rebuilding, task-id resolution, secrets kept out of logs.
set -u
. "$top_srcdir/tests/integration/tap.sh"
. "$top_srcdir/tests/emulators/emulator.sh"

work=$(mktemp -d)
trap 'stop_emulators; rm -rf "$work"' EXIT
emu="$top_srcdir/tests/emulators/clip/clip_emulator.py"
embsync="$top_builddir/embsync"
export EMBSYNC_RETRY_SCALE=0.02
cp -R "$top_srcdir/samples" "$work/images"
chmod -R u+w "$work/images"
app_token="tok-$(date +%s)-secret"
start_emulator clip "$emu" --dim 64 --prefix "/net/$app_token" --not-ready 2 \
    --task 97 --task-token sly-token-123456
base="http://127.0.0.1:$clip_port"
printf 'sly-token-123456\n' >"$work/sly-token"
write_ini() { # $1 = clip section lines
    cat >"$work/c.ini" <<INI
[core]
state_dir = $work/state
plugin_path = $top_builddir/plugins
batch_size = 8
[source]
plugin = dir
root = $work/images
[embedder]
plugin = clip
batch_size = 3
parallel_requests = 2
$1
[store]
plugin = faiss-local
INI
}
write_ini "url = $base/net/$app_token"
fault() { curl -s -X POST "$base/net/$app_token/__emulator/faults" -d "$1" >/dev/null; }
counts() { curl -s "$base/net/$app_token/__emulator/state"; }
matches_folder() {
    for c in shapes textures; do
        "$embsync" search -c "$work/c.ini" --collection "$c" --text "anything" -k 1000 2>/dev/null |
            "$PYTHON3" "$top_srcdir/tests/integration/store_matches.py" "$work/images/$c" || return 1
    done
}
own_top_hit() { # $1 = collection, $2 = path inside it
    "$embsync" search -c "$work/c.ini" --collection "$1" --image "$work/images/$1/$2" -k 1 |
        grep -qF "\"path\":\"$2\""
}

"$embsync" once -c "$work/c.ini" 2>"$work/once.log"
ok $? "first sync through CLIP exits 0" || sed 's/^/# /' "$work/once.log"
grep -q "waiting for the CLIP service to become ready" "$work/once.log" &&
    grep -q "CLIP service at .*: ViT-B-32::openai, 64 dimensions" "$work/once.log"
ok $? "it waited for readiness and learned the dimension from a probe"
matches_folder
ok $? "every image is stored"
own_top_hit shapes circles/red-circle.png && own_top_hit textures stripes/wide.png
ok $? "an image's CLIP vector finds itself first (ids matched to answers)"
"$embsync" search -c "$work/c.ini" --collection shapes --text "a red circle" -k 3 >"$work/hits"
[ $? -eq 0 ] && [ "$(wc -l <"$work/hits")" -eq 3 ]
ok $? "search --text works against CLIP"
! grep -q "$app_token" "$work/once.log"
ok $? "the /net/ app token never appears in a log line"

# One undecodable image in a batch: only it fails, found by bisection.
printf 'not an image' >"$work/images/shapes/broken.png"
cp "$work/images/shapes/target.png" "$work/images/shapes/target-2.png"
printf 'x' >>"$work/images/shapes/target-2.png"
"$embsync" once -c "$work/c.ini" 2>"$work/once.log"
[ $? -eq 0 ] && grep -q "collection shapes: 1 embedded, 0 deleted, 1 failed" "$work/once.log" &&
    grep -q "broken.png\|CLIP service rejected it" "$work/once.log"
ok $? "an undecodable image fails alone; the rest of its batch is embedded" || sed 's/^/# /' "$work/once.log"
rm -f "$work/images/shapes/broken.png"

# Transient faults are retried to success; a shuffled answer is re-paired.
# New pictures whose content is unique in the collection, so a mis-paired
# answer would show.
for f in sea sunset checker; do
    cp "$work/images/textures/$f.png" "$work/images/shapes/new-$f.png"
done
write_ini "url = $base/net/$app_token
dim = 64"
fault '{"add": [{"status": 503, "remaining": 2}, {"drop": true, "remaining": 1},
                {"wrong_length": true, "remaining": 1}, {"shuffle": true, "remaining": 3}]}'
"$embsync" once -c "$work/c.ini" 2>"$work/once.log"
ok $? "503s, a dropped connection and a wrong-length answer are retried to success" || sed 's/^/# /' "$work/once.log"
grep -q "broke the protocol" "$work/once.log"
ok $? "the wrong-length embedding was refused, not stored"
matches_folder && own_top_hit shapes new-sea.png && own_top_hit shapes new-sunset.png &&
    own_top_hit shapes new-checker.png && own_top_hit shapes circles/red-circle.png
ok $? "shuffled answers landed on the right ids"

# A 4xx is reported, not retried: the service wants an Authorization.
stop_emulators
start_emulator clip "$emu" --dim 64 --auth "Token abc-123456"
base="http://127.0.0.1:$clip_port"
write_ini "url = $base
dim = 64"
cp "$work/images/textures/sea.png" "$work/images/textures/sea-2.png"
printf 'zz' >>"$work/images/textures/sea-2.png"
"$embsync" once -c "$work/c.ini" 2>"$work/once.log"
[ $? -ne 0 ] && grep -q "CLIP service answered 401" "$work/once.log"
ok $? "a 401 is reported as a failure"
write_ini "url = $base
dim = 64
auth = Token abc-123456"
"$embsync" once -c "$work/c.ini" 2>"$work/once.log"
[ $? -eq 0 ] && ! grep -q "abc-123456" "$work/once.log"
ok $? "with the auth value it syncs, and the value is never logged"

# Another model: the collections are rebuilt.
write_ini "url = $base
dim = 64
auth = Token abc-123456
model = ViT-L-14::openai"
"$embsync" once -c "$work/c.ini" 2>"$work/once.log"
[ $? -eq 0 ] && grep -q "rebuilding it for clip:ViT-L-14::openai:64" "$work/once.log" && matches_folder
ok $? "a model change rebuilds the collections" || sed 's/^/# /' "$work/once.log"

# The base URL from a Supervisely task id (tasks.info).
stop_emulators
start_emulator clip "$emu" --dim 64 --prefix "/net/$app_token" --task 97 --task-token sly-token-123456
base="http://127.0.0.1:$clip_port"
write_ini "task_id = 97
supervisely_server = $base/
supervisely_token_file = $work/sly-token
model = ViT-L-14::openai"
"$embsync" once -c "$work/c.ini" 2>"$work/once.log"
[ $? -eq 0 ] && grep -q "CLIP service at $base/net/\*\*\*" "$work/once.log" &&
    ! grep -q "sly-token-123456\|$app_token" "$work/once.log"
ok $? "task_id resolves the base URL through tasks.info; no token is logged" || sed 's/^/# /' "$work/once.log"
write_ini "task_id = 98
supervisely_server = $base
supervisely_token_file = $work/sly-token"
"$embsync" once -c "$work/c.ini" 2>"$work/once.log"
[ $? -ne 0 ] && grep -q "tasks.info for task 98: HTTP 404" "$work/once.log"
ok $? "an unknown task id is a clear error"

done_testing
