#!/usr/bin/env bash
# Builds the busybox test image (sentinel-busybox:test) from Debian's busybox-static.
# No registry is needed: the root filesystem is assembled here and loaded with `docker import`.
set -euo pipefail
IMAGE="${SENTINEL_TEST_IMAGE:-sentinel-busybox:test}"
if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  exit 0
fi
BUSYBOX="$(command -v busybox)"
ROOTFS="$(mktemp -d)"
trap 'rm -rf "$ROOTFS"' EXIT
mkdir -p "$ROOTFS"/{bin,sbin,usr/bin,usr/sbin,tmp,proc,sys,dev,etc,www,var/log}
cp "$BUSYBOX" "$ROOTFS/bin/busybox"
for applet in $("$ROOTFS/bin/busybox" --list); do
  [ "$applet" = busybox ] && continue
  ln -sf /bin/busybox "$ROOTFS/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' > "$ROOTFS/etc/passwd"
echo 'root:x:0:' > "$ROOTFS/etc/group"
echo 'ok' > "$ROOTFS/www/index.html"
chmod 1777 "$ROOTFS/tmp"
tar -C "$ROOTFS" -c . | docker import \
  -c 'ENV PATH=/bin:/sbin:/usr/bin:/usr/sbin' \
  -c 'CMD ["/bin/sh"]' - "$IMAGE" >/dev/null
echo "built $IMAGE"
