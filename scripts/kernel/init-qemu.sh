#!/bin/sh
# PID 1 of the QEMU test guest (busybox): Debian's own kernel, for what UML's kernel lacks (nftables' ip, ip6 and inet
# families, which SNAT and firewall-mark marking need). Same contract as init.sh: host root read-only at /host (9p),
# $FULCRUM_OUT writable (9p), run $FULCRUM_OUT/cmd in `chroot /host`, exit code to $FULCRUM_OUT/rc, power off.
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
for m in $(cat /modules.order); do insmod "/modules/$m" 2>/dev/null; done
mkdir -p /host
mount -t 9p -o trans=virtio,version=9p2000.L,ro hostroot /host || { echo "init: cannot mount the host root"; poweroff -f; }
# fulcrum_out=<dir> on the kernel command line (lower case: the kernel passes it to init as an environment variable).
FULCRUM_OUT=$fulcrum_out
. "/host$FULCRUM_OUT/env"
mkdir -p /lib
ln -s "/host$FULCRUM_KMODS" /lib/modules
for m in $FULCRUM_MODULES; do modprobe "$m" 2>/dev/null || echo "init: module $m not loaded"; done
mount -t proc proc /host/proc
mount -t sysfs sys /host/sys
mount -t devtmpfs dev /host/dev 2>/dev/null || mount -t tmpfs dev /host/dev
# A checkout under /tmp or /run would vanish under the guest's own tmpfs: hold it aside and put it back on top.
case "$FULCRUM_CWD" in
  /tmp/*|/run/*) mkdir -p /repo && mount --bind "/host$FULCRUM_CWD" /repo ;;
esac
mount -t tmpfs tmp /host/tmp
mount -t tmpfs run /host/run
case "$FULCRUM_CWD" in
  /tmp/*|/run/*) mkdir -p "/host$FULCRUM_CWD" && mount --bind /repo "/host$FULCRUM_CWD" ;;
esac
mkdir -p /host/run/netns
mount -t 9p -o trans=virtio,version=9p2000.L out "/host$FULCRUM_OUT"
ip link set lo up
chroot /host /bin/sh -c "cd '$FULCRUM_CWD' && export HOME=/tmp PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin FULCRUM_IN_TEST_KERNEL=1 && sh '$FULCRUM_OUT/cmd'" \
  > "/host$FULCRUM_OUT/output" 2>&1
echo $? > "/host$FULCRUM_OUT/rc"
sync
umount "/host$FULCRUM_OUT"
poweroff -f
