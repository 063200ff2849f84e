#!/bin/sh
# Bash completion: commands, options per command, and collection names from
# the state directory of the configuration on the command line.
set -u
. "$top_srcdir/tests/integration/tap.sh"

lib=/usr/share/bash-completion/bash_completion
if ! command -v bash >/dev/null 2>&1 || [ ! -r "$lib" ]; then
    echo "1..0 # SKIP bash-completion not installed (Debian package bash-completion)"
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -R "$top_srcdir/samples" "$work/images"
chmod -R u+w "$work/images"
cat >"$work/embsync.ini" <<INI
[core]
state_dir = $work/state
plugin_path = $top_builddir/plugins
[source]
plugin = dir
root = $work/images
[embedder]
plugin = descriptor
[store]
plugin = faiss-local
INI
"$top_builddir/embsync" once -c "$work/embsync.ini" 2>/dev/null

# complete LINE: the candidates bash offers at the end of LINE.
complete_line() {
    PATH="$top_builddir:$PATH" bash -c '
        . "$1"; . "$2"
        COMP_LINE=$3; COMP_POINT=${#COMP_LINE}
        read -r -a COMP_WORDS <<<"$COMP_LINE"
        [ "${COMP_LINE% }" != "$COMP_LINE" ] && COMP_WORDS+=("")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        _embsync embsync "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
        printf "%s\n" "${COMPREPLY[@]}" | sort' \
        sh "$lib" "$top_srcdir/contrib/embsync.bash-completion" "$1"
}

# Every command `embsync --help` lists, and no other.
listed=$("$top_builddir/embsync" --help | sed -n '/^commands:/,/^$/s/^  \([a-z]*\) .*/\1/p' | sort | tr '\n' ' ')
[ -n "$listed" ] && [ "$(complete_line 'embsync ' | grep -v '^-' | sort | tr '\n' ' ')" = "$listed" ]
ok $? "the commands are those embsync --help lists ($listed)"
complete_line 'embsync reconcile -' | grep -qx -- '--dry-run' &&
    complete_line 'embsync rebuild -' | grep -qx -- '--collection' &&
    ! complete_line 'embsync rebuild -' | grep -qx -- '--dry-run' &&
    [ "$(complete_line 'embsync search --format ' | tr '\n' ' ')" = "html json text " ]
ok $? "options of reconcile, rebuild and search --format"
[ "$(complete_line 'embsync s' | tr '\n' ' ')" = "search status " ]
ok $? "a command's prefix"
complete_line 'embsync search -' | grep -qx -- '--collection' &&
    ! complete_line 'embsync once -' | grep -qx -- '--collection' &&
    complete_line 'embsync once -' | grep -qx -- '--config'
ok $? "options per command (--collection only for search)"
expected=$(find "$work/images" -mindepth 1 -maxdepth 1 -type d -exec basename {} \; | sort | tr '\n' ' ')
got=$(complete_line "embsync search -c $work/embsync.ini --collection " | tr '\n' ' ')
[ "$got" = "$expected" ]
ok $? "collection names from the state directory ($expected)" || echo "# got: $got"

done_testing
