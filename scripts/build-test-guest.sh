#!/usr/bin/env bash
# Builds a tiny real guest for end-to-end tests from Debian packages:
#
#   scripts/build-test-guest.sh [OUT_DIR]      (OUT_DIR defaults to build-guest/
#                                               at the repo root)
#
# Writes OUT_DIR/vmlinuz (Debian's cloud kernel) and OUT_DIR/initramfs.gz
# (busybox-static, the virtio modules, the host's qemu-ga with its libraries,
# and scripts/test-guest/init as /init).
# See scripts/test-guest/README.md for what the guest does and how to boot it.
#
# Nothing is installed into the host: the two packages are fetched with
# `apt-get download` and unpacked with `dpkg-deb -x` into a temporary work dir.
# Needs qemu-ga (qemu-guest-agent) and ldd on the host, apt-get, apt-cache,
# dpkg-deb, cpio, gzip (and xz/zstd only if the
# kernel ships compressed modules). When cpio is missing and we are root, it is
# installed with apt-get (CI should install it up front).
#
# Cached: OUT_DIR/.stamp holds the kernel package name and version, the
# busybox-static version, qemu-ga's path and package version, and the sha256
# of init and of this script; when they
# match and both outputs exist, nothing is done and the paths are printed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:-$ROOT/build-guest}
INIT_SRC=$ROOT/scripts/test-guest/init
SELF=$ROOT/scripts/build-test-guest.sh

# Modules, in load order (init also retries, so a wrong order only costs time).
MODULES=(
  drivers/virtio/virtio.ko
  drivers/virtio/virtio_ring.ko
  drivers/virtio/virtio_pci_modern_dev.ko
  drivers/virtio/virtio_pci_legacy_dev.ko
  drivers/virtio/virtio_pci.ko
  net/core/failover.ko
  drivers/net/net_failover.ko
  drivers/net/virtio_net.ko
  drivers/block/virtio_blk.ko
  drivers/char/virtio_console.ko
  drivers/virtio/virtio_balloon.ko
)

die() { echo "build-test-guest: error: $*" >&2; exit 1; }
log() { echo "build-test-guest: $*" >&2; }

[ -f "$INIT_SRC" ] || die "guest init not found: $INIT_SRC"
for t in apt-get apt-cache dpkg-deb gzip sha256sum ldd; do
  command -v "$t" >/dev/null || die "'$t' is needed and not found in PATH"
done

# The host's qemu-ga goes into the guest, with the libraries it links: init
# starts it when the guest has a port named org.qemu.guest_agent.0 (libvirt's
# guest agent channel), so virsh qemu-agent-command has a real agent to ask.
# Debian installs it as /usr/sbin/qemu-ga; found through PATH otherwise.
QGA=
for c in /usr/sbin/qemu-ga /usr/bin/qemu-ga "$(command -v qemu-ga || true)"; do
  [ -n "$c" ] && [ -x "$c" ] && { QGA=$c; break; }
done
[ -n "$QGA" ] || die "qemu-ga is not installed (Debian: apt-get install qemu-guest-agent); the test guest carries it"
QGA_VER=$(dpkg-query -W -f '${Version}' qemu-guest-agent 2>/dev/null || sha256sum <"$QGA" | cut -d' ' -f1)

if ! command -v cpio >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    log "cpio is missing: running 'apt-get install -y --no-install-recommends cpio' (CI should install cpio itself)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends cpio >&2 \
      || die "'apt-get install cpio' failed"
  else
    die "cpio is needed (apt-get install cpio); not root, so not installing it"
  fi
fi

# --- Which kernel: linux-image-cloud-amd64 is a metapackage; its Depends names
# the real image package (linux-image-6.1.0-NN-cloud-amd64).
resolve_kernel_pkg() {
  apt-cache depends linux-image-cloud-amd64 2>/dev/null \
    | sed -n 's/^ *Depends: \(linux-image-[^ ]*-cloud-amd64\)$/\1/p' | head -n1 || true
}
KPKG=$(resolve_kernel_pkg)
if [ -z "$KPKG" ]; then
  if [ "$(id -u)" = 0 ]; then
    log "apt-cache knows no linux-image-cloud-amd64: running 'apt-get update'"
    apt-get update >&2 || die "'apt-get update' failed"
    KPKG=$(resolve_kernel_pkg)
  fi
  [ -n "$KPKG" ] || die "could not resolve linux-image-cloud-amd64 to a kernel package with 'apt-cache depends' (run 'apt-get update' as root?)"
fi
# One apt-cache call for both candidate versions (each call costs ~0.4 s).
POLICY=$(apt-cache policy "$KPKG" busybox-static 2>/dev/null || true)
candidate_version() {
  printf '%s\n' "$POLICY" | awk -v p="$1:" '/^[^ ]/ { cur = $1 } cur == p && $1 == "Candidate:" { print $2; exit }'
}
KVER_PKG=$(candidate_version "$KPKG")
BB_VER=$(candidate_version busybox-static)
[ -n "$KVER_PKG" ] && [ "$KVER_PKG" != "(none)" ] || die "apt has no candidate version of $KPKG"
[ -n "$BB_VER" ] && [ "$BB_VER" != "(none)" ] || die "apt has no candidate version of busybox-static"

STAMP_WANT=$(printf 'kernel=%s=%s\nbusybox-static=%s\nqemu-ga=%s=%s\ninit-sha256=%s\nscript-sha256=%s\n' \
  "$KPKG" "$KVER_PKG" "$BB_VER" "$QGA" "$QGA_VER" \
  "$(sha256sum <"$INIT_SRC" | cut -d' ' -f1)" "$(sha256sum <"$SELF" | cut -d' ' -f1)")

print_paths() {
  echo "kernel:    $OUT/vmlinuz"
  echo "initramfs: $OUT/initramfs.gz"
}

if [ -f "$OUT/vmlinuz" ] && [ -f "$OUT/initramfs.gz" ] && [ -f "$OUT/.stamp" ] \
   && [ "$(cat "$OUT/.stamp")" = "$STAMP_WANT" ]; then
  log "up to date ($KPKG $KVER_PKG)"
  print_paths
  exit 0
fi

# --- Build in a temporary work dir; outputs are moved into OUT at the end.
mkdir -p "$OUT" || die "cannot create output dir $OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/labtel-test-guest.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$WORK"' EXIT
chmod 755 "$WORK"
mkdir "$WORK/debs" "$WORK/kernel" "$WORK/busybox" "$WORK/rootfs"

log "fetching $KPKG ($KVER_PKG) and busybox-static ($BB_VER)"
APT_OPTS=()
# As root apt-get download drops to the _apt user; skip that so it can write
# into our work dir without a warning.
[ "$(id -u)" = 0 ] && APT_OPTS=(-o APT::Sandbox::User=root)
(cd "$WORK/debs" && apt-get "${APT_OPTS[@]}" download "$KPKG=$KVER_PKG" "busybox-static=$BB_VER" >&2) \
  || die "'apt-get download $KPKG busybox-static' failed"

KDEB=$(ls "$WORK"/debs/"$KPKG"_*.deb 2>/dev/null | head -n1 || true)
BBDEB=$(ls "$WORK"/debs/busybox-static_*.deb 2>/dev/null | head -n1 || true)
[ -n "$KDEB" ] || die "apt-get download produced no $KPKG .deb"
[ -n "$BBDEB" ] || die "apt-get download produced no busybox-static .deb"
dpkg-deb -x "$KDEB" "$WORK/kernel" || die "dpkg-deb -x $KDEB failed"
dpkg-deb -x "$BBDEB" "$WORK/busybox" || die "dpkg-deb -x $BBDEB failed"

KVER=$(ls "$WORK/kernel/lib/modules" 2>/dev/null | head -n1 || true)
[ -n "$KVER" ] || die "$KPKG has no lib/modules/<version> directory"
KSRC=$WORK/kernel/lib/modules/$KVER/kernel
[ -f "$WORK/kernel/boot/vmlinuz-$KVER" ] || die "$KPKG has no boot/vmlinuz-$KVER"
[ -x "$WORK/busybox/bin/busybox" ] || die "busybox-static has no bin/busybox"

# --- rootfs: busybox (applets are linked by init with `busybox --install -s`),
# the modules (decompressed: busybox insmod loads plain .ko), init.
R=$WORK/rootfs
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,etc,lib/modules}
cp "$WORK/busybox/bin/busybox" "$R/bin/busybox"
ln -s busybox "$R/bin/sh"
: >"$R/lib/modules/order"
for m in "${MODULES[@]}"; do
  name=$(basename "$m")
  if [ -f "$KSRC/$m" ]; then
    cp "$KSRC/$m" "$R/lib/modules/$name"
  elif [ -f "$KSRC/$m.xz" ]; then
    command -v xz >/dev/null || die "$m is xz-compressed and xz is not installed (apt-get install xz-utils)"
    xz -dc "$KSRC/$m.xz" >"$R/lib/modules/$name" || die "xz -d $m.xz failed"
  elif [ -f "$KSRC/$m.zst" ]; then
    command -v zstd >/dev/null || die "$m is zstd-compressed and zstd is not installed (apt-get install zstd)"
    zstd -qdc "$KSRC/$m.zst" >"$R/lib/modules/$name" || die "zstd -d $m.zst failed"
  elif [ -f "$KSRC/$m.gz" ]; then
    gzip -dc "$KSRC/$m.gz" >"$R/lib/modules/$name" || die "gzip -d $m.gz failed"
  else
    die "module $m (.ko, .ko.xz, .ko.zst or .ko.gz) not found in $KPKG under lib/modules/$KVER/kernel"
  fi
  echo "$name" >>"$R/lib/modules/order"
done
echo "$KVER" >"$R/etc/kernel-version"

# qemu-ga at /usr/sbin/qemu-ga, and every library `ldd` names (the loader
# too), each at the path ldd gives, so the guest's loader finds them as the
# host's does. cp -L: the files, not the host's symlinks to them.
cp -L "$QGA" "$R/usr/sbin/qemu-ga"
LIBS=$(ldd "$QGA" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }') \
  || die "ldd $QGA failed"
[ -n "$LIBS" ] || die "ldd $QGA named no libraries (a static qemu-ga? then drop this copy)"
printf '%s\n' "$LIBS" | grep -q 'ld-linux' || die "ldd $QGA named no loader (ld-linux*)"
for lib in $LIBS; do
  mkdir -p "$R$(dirname "$lib")"
  cp -L "$lib" "$R$lib" || die "cannot copy $lib (a library of $QGA) into the initramfs"
done
install -m 0755 "$INIT_SRC" "$R/init"

log "packing initramfs (cpio newc + gzip)"
# Fixed mtimes, owners, order and inode numbers: the same inputs give the same bytes.
find "$R" -exec touch -h -d @0 {} +
(cd "$R" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 --reproducible) \
  | gzip -9n >"$WORK/initramfs.gz" || die "cpio/gzip of the initramfs failed"

cp "$WORK/kernel/boot/vmlinuz-$KVER" "$WORK/vmlinuz"
rm -f "$OUT/.stamp"
mv -f "$WORK/vmlinuz" "$OUT/vmlinuz"
mv -f "$WORK/initramfs.gz" "$OUT/initramfs.gz"
printf '%s\n' "$STAMP_WANT" >"$OUT/.stamp"
log "built for $KPKG $KVER_PKG (kernel $KVER), busybox-static $BB_VER"
print_paths
