#!/bin/sh
# PID 1 of the User-Mode Linux test guest (busybox). Mounts the host read-only, loads IPVS and the modules the tests
# need, runs $FULCRUM_OUT/cmd as root inside `chroot /host`, writes its exit code where the host can read it, and
# powers off. UML does not return the guest's exit code, hence the file. FULCRUM_OUT arrives on the kernel command
# line (an unknown key=value becomes init's environment); the rest arrives in $FULCRUM_OUT/env.
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mkdir -p /host
mount -r -t hostfs -o / none /host
. "/host$FULCRUM_OUT/env"
# busybox modprobe reads /lib/modules/<uname -r>/modules.dep; kmod inside the chroot cannot find UML's modules.
ln -s /host/usr/lib/uml/modules /lib/modules
for m in $FULCRUM_MODULES; do modprobe "$m" 2>/dev/null || echo "init: module $m not loaded"; done
mount -t proc proc /host/proc
mount -t sysfs sys /host/sys
mount -t devtmpfs dev /host/dev 2>/dev/null || mount -t tmpfs dev /host/dev
mount -t tmpfs tmp /host/tmp
mount -t tmpfs run /host/run
# A checkout under /tmp or /run would vanish under those tmpfs mounts: mount the host's copy again, read-only.
case "$FULCRUM_CWD" in
  /tmp/*|/run/*) mkdir -p "/host$FULCRUM_CWD" && mount -r -t hostfs -o "$FULCRUM_CWD" none "/host$FULCRUM_CWD" ;;
esac
mkdir -p /host/run/netns
# The one writable host directory: results go here (the path is the same inside and out).
mount -t hostfs -o "$FULCRUM_OUT" none "/host$FULCRUM_OUT"
ip link set lo up
chroot /host /bin/sh -c "cd '$FULCRUM_CWD' && export HOME=/tmp PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin FULCRUM_IN_TEST_KERNEL=1 && sh '$FULCRUM_OUT/cmd'" \
  > "/host$FULCRUM_OUT/output" 2>&1
echo $? > "/host$FULCRUM_OUT/rc"
sync
umount "/host$FULCRUM_OUT"
poweroff -f
