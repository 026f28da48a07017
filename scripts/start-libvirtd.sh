#!/usr/bin/env bash
# Starts a libvirtd the tests that use libvirt can talk to, without systemd
# (CI machines and these lab containers have none), the way
# ../shared/lab-notes.md proved to work on Debian 12:
#
#   bash scripts/start-libvirtd.sh        (as root; .ci/run runs it before npm test)
#
# Idempotent: when `virsh -c qemu:///system version` already answers, nothing is
# changed. Needs the packages libvirt-daemon, libvirt-daemon-driver-qemu and
# libvirt-clients (.ci/run installs them).
set -euo pipefail

URI=qemu:///system
CONF=/etc/libvirt/qemu.conf
WAIT_S=30

die() { echo "start-libvirtd: error: $*" >&2; exit 1; }
log() { echo "start-libvirtd: $*" >&2; }

answers() { virsh -c "$URI" version >/dev/null 2>&1; }

command -v virsh >/dev/null || die "virsh is not installed (Debian: apt-get install libvirt-clients)"

# Already running (started by hand, by an earlier run, or by systemd on a lab
# host): leave it alone, it may have domains. Only warn when its qemu.conf
# lacks the line that keeps /dev/null safe (see namespaces below).
if answers; then
  log "libvirtd already answers on $URI: nothing to do"
  grep -Eq '^[[:space:]]*namespaces[[:space:]]*=[[:space:]]*\[[[:space:]]*\]' "$CONF" 2>/dev/null \
    || log "warning: $CONF does not set namespaces = [] (a failed domain start may remove the host's /dev/null)"
  exit 0
fi

[ "$(id -u)" = 0 ] || die "must run as root (it writes $CONF and starts libvirtd)"
[ -x /usr/sbin/libvirtd ] || die "/usr/sbin/libvirtd is missing (Debian: apt-get install libvirt-daemon libvirt-daemon-driver-qemu)"
[ -x /usr/sbin/virtlogd ] || die "/usr/sbin/virtlogd is missing (Debian: apt-get install libvirt-daemon)"
# Debian ships qemu.conf with libvirt-daemon-system (systemd units and all),
# which CI does not install: without the file the driver takes its defaults,
# and the four keys below are all this host needs, so a missing one is made.
if [ ! -f "$CONF" ]; then
  mkdir -p "$(dirname "$CONF")"
  printf '# Written by labtel scripts/start-libvirtd.sh (no libvirt-daemon-system here).\n' >"$CONF"
fi

# The qemu driver looks up the user and group the package names in its
# defaults (libvirt-qemu) when it loads, even when qemu.conf says root; the
# package's postinst makes them, but only with its usual adduser path, which a
# --no-install-recommends install in a bare container may not have had.
getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
getent passwd libvirt-qemu >/dev/null || useradd -r -g libvirt-qemu -d /var/lib/libvirt libvirt-qemu

# set_key KEY VALUE: KEY = VALUE in qemu.conf, replacing an uncommented KEY
# line if there is one, appended otherwise (the commented defaults stay).
set_key() {
  if grep -Eq "^[[:space:]]*$1[[:space:]]*=" "$CONF"; then
    sed -i -E "s|^[[:space:]]*$1[[:space:]]*=.*$|$1 = $2|" "$CONF"
  else
    printf '%s = %s\n' "$1" "$2" >>"$CONF"
  fi
}
# QEMU as root: the tests hand it files in their own temporary directories
# (kernel, initramfs, disk, sockets) that a libvirt-qemu user could not open.
set_key user '"root"'
set_key group '"root"'
# No per-domain mount namespace. With libvirt's default one, a failed domain
# start here removed the host's /dev/null, which the next writer re-created as
# a regular file (lab-notes.md). It must be set before the first domain starts,
# hence before libvirtd does.
set_key namespaces '[]'
# No AppArmor/SELinux labelling: containers have neither, and the driver
# would fail to label the test's files.
set_key security_driver '"none"'

# Directories a package install under systemd would have made (tmpfiles.d):
# libvirtd's and virtlogd's logs, sockets and pidfiles.
mkdir -p /var/log/libvirt /var/run/libvirt

# virtlogd first: libvirtd hands it each domain's console and QEMU log, and a
# domain start fails when it is not there. Not started twice: a second one
# would fail on the pidfile lock of the first.
if [ -S /var/run/libvirt/virtlogd-sock ] && [ -f /var/run/virtlogd.pid ] && kill -0 "$(cat /var/run/virtlogd.pid)" 2>/dev/null; then
  log "virtlogd already runs (pid $(cat /var/run/virtlogd.pid))"
else
  /usr/sbin/virtlogd -d || die "/usr/sbin/virtlogd -d failed"
fi

# libvirtd, as a daemon; unless one is already starting (its pidfile names a
# live process), which we then only wait for.
if [ -f /var/run/libvirtd.pid ] && kill -0 "$(cat /var/run/libvirtd.pid)" 2>/dev/null; then
  log "libvirtd runs (pid $(cat /var/run/libvirtd.pid)) but does not answer yet: waiting for it"
else
  /usr/sbin/libvirtd -d || die "/usr/sbin/libvirtd -d failed (see /var/log/libvirt/ and its messages above)"
fi

# Bounded wait: the daemon forks before its drivers are loaded and its socket
# accepts connections.
for _ in $(seq $((WAIT_S * 10))); do
  if answers; then
    log "libvirtd answers on $URI (pid $(cat /var/run/libvirtd.pid 2>/dev/null || echo '?'))"
    exit 0
  fi
  sleep 0.1
done
die "libvirtd did not answer on $URI within ${WAIT_S} s (virsh -c $URI version: $(virsh -c "$URI" version 2>&1 | tail -n1))"
