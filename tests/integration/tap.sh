# Minimal TAP helpers for the shell tests: ok STATUS DESCRIPTION.
tap_n=0
tap_failed=0
ok() {
    tap_n=$((tap_n + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok $tap_n - $2"
    else
        echo "not ok $tap_n - $2"
        tap_failed=$((tap_failed + 1))
    fi
    return "$1"
}
done_testing() {
    echo "1..$tap_n"
    exit 0
}
