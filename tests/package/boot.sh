# Sourced by tests/package/deb.sh once the packages are installed: the
# installed embsync.service started by a real systemd, booted in a
# container (systemd-nspawn) over the host's /usr, with a volatile /etc
# and /var.  Uses deb.sh's ok() and $work; needs /srv/embsync filled.
#
#   1. a valid configuration that reads the control token as a credential
#      (LoadCredential= with DynamicUser=yes): `systemctl start` succeeds,
#      the status line is the pass's summary, the control port takes the
#      token, a reload and a stop succeed, the stop exits 0;
#   2. a broken configuration: `systemctl start` fails, the unit is not
#      restarted (exit status 2), the error is in the journal at "err".

boot_probe() { # $1 = etc dir bound on /etc/embsync, $2 = output dir
    mkdir -p "$work/units/embsync.service.d" "$2"
    rm -f "$work/units/embsync.service.d/credential.conf"
    # The administrator's drop-in, when the etc dir holds the credential.
    [ -f "$1/credentials/control" ] &&
        cat >"$work/units/embsync.service.d/credential.conf" <<'UNIT'
[Service]
LoadCredential=control:/etc/embsync/credentials/control
UNIT
    cat >"$work/units/embsync-probe.service" <<'UNIT'
[Unit]
Description=probe embsync.service
[Service]
Type=oneshot
Environment=SYSTEMD_PAGER= PAGER=cat
ExecStart=/bin/sh /probe/probe.sh
ExecStopPost=/bin/systemctl --no-block poweroff
UNIT
    cat >"$2/probe.sh" <<'PROBE'
out=/probe
systemctl start embsync.service; echo $? >$out/start
sleep 2
systemctl is-active embsync.service >$out/active
systemctl show -p StatusText -p SubState -p NRestarts -p ExecMainStatus \
    -p User embsync.service >$out/show
port=$(sed -n 's/^listen = 127.0.0.1://p' /etc/embsync/embsync.ini)
if [ -n "$port" ]; then
    token=$(cat /etc/embsync/credentials/control)
    curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/run" >$out/run-without
    curl -s -o /dev/null -w '%{http_code}' -X POST \
        -H "Authorization: Bearer $token" "http://127.0.0.1:$port/run" >$out/run-with
    systemctl reload embsync.service; echo $? >$out/reload
    sleep 1
    systemctl is-active embsync.service >$out/active-after-reload
    systemctl stop embsync.service
    systemctl show -p ExecMainStatus -p Result embsync.service >$out/stopped
fi
ls -ld /var/lib/embsync /var/lib/private/embsync >$out/state 2>&1
journalctl -u embsync.service -p err -o cat >$out/journal-err
journalctl -u embsync.service -o cat >$out/journal
PROBE
    timeout 120 systemd-nspawn --quiet --keep-unit --register=no \
        --console=read-only -D / --volatile=yes \
        --bind-ro="$1":/etc/embsync --bind-ro=/etc/alternatives \
        --bind-ro=/srv/embsync --bind-ro="$work/units":/etc/systemd/system \
        --bind="$2":/probe \
        -b -- systemd.unit=embsync-probe.service systemd.firstboot=off \
        </dev/null >"$2/console" 2>&1
}

if ! command -v systemd-nspawn >/dev/null 2>&1; then
    apt-get install -y -qq --no-install-recommends systemd-container \
        >>"$work/apt.log" 2>&1
fi
if ! command -v systemd-nspawn >/dev/null 2>&1; then
    ok 0 "# SKIP no systemd-nspawn: the unit is not started under systemd here"
else
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    good="$work/etc-good"
    mkdir -p "$good/credentials"
    sed "s/^\[core\]$/[core]\nlisten = 127.0.0.1:$port\ncontrol_token_credential = control/" \
        /etc/embsync/embsync.ini >"$good/embsync.ini"
    printf 'cred-Token-%s\n' "$(date +%s%N)" >"$good/credentials/control"
    chmod 0600 "$good/credentials/control"
    boot_probe "$good" "$work/probe-good"
    p="$work/probe-good"
    if [ ! -s "$p/start" ]; then
        ok 0 "# SKIP systemd-nspawn could not boot a container here"
        sed 's/^/# /' "$p/console" | tail -20
    else
        [ "$(cat "$p/start")" = 0 ] && [ "$(cat "$p/active")" = active ]
        ok $? "real systemd: systemctl start embsync succeeds, the unit is active" ||
            sed 's/^/# /' "$p/journal"
        grep -q '^StatusText=last pass .*: [0-9]* collection(s), 0 failed; [1-9][0-9]* embedded' "$p/show"
        ok $? "real systemd: the status line is the last pass's summary" ||
            sed 's/^/# /' "$p/show"
        echo "# $(grep StatusText "$p/show")"
        [ "$(cat "$p/run-without" 2>/dev/null)" = 401 ] &&
            [ "$(cat "$p/run-with" 2>/dev/null)" = 202 ]
        ok $? "real systemd: the control token came from LoadCredential= (POST /run: 401 without, 202 with)" ||
            echo "# without $(cat "$p/run-without" 2>/dev/null), with $(cat "$p/run-with" 2>/dev/null)"
        [ "$(cat "$p/reload" 2>/dev/null)" = 0 ] &&
            [ "$(cat "$p/active-after-reload" 2>/dev/null)" = active ] &&
            grep -q 'configuration reloaded' "$p/journal"
        ok $? "real systemd: systemctl reload (RELOADING=1, READY=1) keeps it active"
        grep -q '^ExecMainStatus=0$' "$p/stopped" 2>/dev/null &&
            grep -q '^Result=success$' "$p/stopped"
        ok $? "real systemd: systemctl stop exits 0" || sed 's/^/# /' "$p/stopped"
        grep -q 'private/embsync' "$p/state"
        ok $? "real systemd: the state directory belongs to the dynamic user (/var/lib/private/embsync)" ||
            sed 's/^/# /' "$p/state"
        [ ! -s "$p/journal-err" ]
        ok $? "real systemd: no error in the journal" || sed 's/^/# /' "$p/journal-err"

        bad="$work/etc-bad"
        mkdir -p "$bad"
        printf '[core]\ninterval = never\n' >"$bad/embsync.ini"
        boot_probe "$bad" "$work/probe-bad"
        p="$work/probe-bad"
        [ "$(cat "$p/start" 2>/dev/null)" != 0 ] && [ -s "$p/start" ]
        ok $? "real systemd: systemctl start fails with a broken configuration"
        grep -q '^ExecMainStatus=2$' "$p/show" && grep -q '^SubState=failed$' "$p/show" &&
            grep -q '^NRestarts=0$' "$p/show"
        ok $? "real systemd: exit status 2 is not restarted (failed, not auto-restart)" ||
            sed 's/^/# /' "$p/show"
        grep -q 'interval' "$p/journal-err"
        ok $? "real systemd: the configuration error is in the journal at priority err" ||
            sed 's/^/# /' "$p/journal"
    fi
fi
