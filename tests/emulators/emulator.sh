# Start and stop the service emulators from the shell tests.
#   start_emulator NAME SCRIPT [ARGS...]  sets NAME_port and NAME_pid
#   stop_emulators                        (call it from an EXIT trap)
emulator_pids=""

start_emulator() {
    _name=$1
    shift
    _portfile=$(mktemp)
    rm -f "$_portfile"
    "$PYTHON3" "$@" --port 0 --port-file "$_portfile" 2>>"${work:-/tmp}/$_name-emulator.log" &
    _pid=$!
    emulator_pids="$emulator_pids $_pid"
    for _ in $(seq 1 200); do
        [ -s "$_portfile" ] && break
        sleep 0.05
    done
    eval "${_name}_port=\$(cat \"\$_portfile\")"
    eval "${_name}_pid=$_pid"
    rm -f "$_portfile"
}

stop_emulators() {
    for _pid in $emulator_pids; do
        kill "$_pid" 2>/dev/null
    done
    for _pid in $emulator_pids; do
        wait "$_pid" 2>/dev/null
    done
    emulator_pids=""
}
