#!/bin/sh
# The seed's storage step for a new device (amazon-ebs-autoscale, bin/ebs-autoscale
# add_space): LVM mode pvcreate + vgextend + lvextend to 100%VG + resize2fs or
# xfs_growfs; btrfs mode `btrfs device add` + `btrfs balance start -m`.
# Run by bench-seed-attach@DEV.service, started by udev for every new disk like
# dmscale-attach@; acts only on a disk claimed in /run/dmscale-bench/claim/SERIAL.
set -e
dev=$1
name=${dev##*/}
serial=$(tr -d ' ' < "/sys/block/$name/device/serial" 2>/dev/null) || exit 0
claim=/run/dmscale-bench/claim/$serial
[ -f "$claim" ] || exit 0
read -r kind a b c d < "$claim"
case $kind in
lvm)    # a=VG b=LV c=fstype d=mountpoint
	pvcreate -q "$dev"
	vgextend -q "$a" "$dev"
	lvextend -q -l 100%VG "$a/$b"
	if [ "$c" = xfs ]; then xfs_growfs -d "$d" >/dev/null; else resize2fs "/dev/$a/$b" >/dev/null 2>&1; fi ;;
btrfs)  # a=mountpoint
	btrfs device add "$dev" "$a"
	btrfs balance start -m "$a" >/dev/null ;;
esac
echo "done $(cat /proc/uptime)" > "/run/dmscale-bench/done.$serial"
