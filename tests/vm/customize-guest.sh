#!/bin/bash
# mmdebstrap customize hook: make the guest boot fast and be reachable by the harness.
set -euo pipefail
R=${1:?root}
echo dmscale-test > "$R/etc/hostname"
echo 'root:root' | chroot "$R" chpasswd
cat > "$R/etc/fstab" <<'F'
/dev/nvme0n1 / ext4 rw,errors=remount-ro 0 1
F
# Network: DHCP on the (restricted) QEMU user network, for the IMDS/EC2 simulator.
mkdir -p "$R/etc/systemd/network"
cat > "$R/etc/systemd/network/50-user.network" <<'F'
[Match]
Name=en* eth*
[Network]
DHCP=ipv4
LinkLocalAddressing=no
IPv6AcceptRA=no
F
chroot "$R" systemctl enable systemd-networkd.service >/dev/null 2>&1 || true
# The harness talks to the guest through qemu-guest-agent on virtio-serial.
chroot "$R" systemctl enable qemu-guest-agent.service >/dev/null 2>&1 || true
# Nothing that would slow boot or touch the network.
for u in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service \
         fstrim.timer systemd-timesyncd.service lvm2-monitor.service systemd-logind.service \
         getty@tty1.service serial-getty@ttyS0.service systemd-journal-flush.service \
         systemd-update-utmp.service systemd-update-utmp-runlevel.service \
         dev-hugepages.mount dev-mqueue.mount sys-kernel-debug.mount sys-kernel-tracing.mount \
         systemd-binfmt.service modprobe@fuse.service modprobe@drm.service; do
  chroot "$R" systemctl mask "$u" >/dev/null 2>&1 || true
done
# Docker and cloud-init are installed for the end-to-end tests, which start them
# themselves; every other test boots without them.
for u in docker.service docker.socket containerd.service; do
  chroot "$R" systemctl disable "$u" >/dev/null 2>&1 || true
done
touch "$R/etc/cloud/cloud-init.disabled"
mkdir -p "$R/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\n' > "$R/etc/systemd/journald.conf.d/test.conf"
# Serial console for logs.
mkdir -p "$R/etc/systemd/system/serial-getty@ttyS0.service.d"
# Kernel + modules must be readable by the host to boot with -kernel.
ln -sf "$(cd "$R/boot" && ls vmlinuz-* | head -1)" "$R/boot/vmlinuz" 2>/dev/null || true
