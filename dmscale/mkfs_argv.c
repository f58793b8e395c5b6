/* The mkfs command line for a pool's filesystem (pure: no syscalls). */
#include "dmscale/mkfs_argv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

bytes_t dms_mkfs_journal_bytes(bytes_t backing_bytes)
{
	bytes_t j = backing_bytes / 8;
	if (j < 64 * MIB)
		j = 64 * MIB;
	if (j > GIB)
		j = GIB;
	return j / MIB * MIB;
}

int dms_mkfs_argv(const char *fstype, const char *devnode, bytes_t backing_bytes, bool fixed_size, char *argv[],
		  char *buf, size_t buflen)
{
	size_t n = 0;
	char opt[64] = "";
	/* mke2fs -J size= takes MiB without a suffix; mkfs.xfs -l size= a suffix. */
	if (fixed_size)
		snprintf(opt, sizeof(opt), "size=%llu%s",
			 (unsigned long long)(dms_mkfs_journal_bytes(backing_bytes) / MIB),
			 strcmp(fstype, "xfs") ? "" : "m");
	if (strlen(opt) + 1 > buflen)
		return -ENOSPC;
	memcpy(buf, opt, strlen(opt) + 1);
	if (!strcmp(fstype, "ext4")) {
		/* -m 0: scratch space needs no root reserve. 64bit (Debian default)
		 * lifts the 16 TiB limit. nodiscard: a new EBS volume reads as zeros
		 * already; lazy init keeps mkfs O(1) in size. Linear: the default
		 * resize_inode reserves GDT blocks for 1024x online growth. Thin: the
		 * volume has its final (virtual) size, so no resize_inode (none is
		 * possible past 2^32 blocks), and a journal sized for the real data
		 * space (every journal block is written as the journal wraps). */
		argv[n++] = "mkfs.ext4";
		argv[n++] = "-q";
		argv[n++] = "-F";
		argv[n++] = "-m";
		argv[n++] = "0";
		argv[n++] = "-O";
		argv[n++] = fixed_size ? "64bit,^resize_inode" : "64bit,resize_inode";
		argv[n++] = "-E";
		argv[n++] = "nodiscard,lazy_itable_init=1,lazy_journal_init=1";
		if (fixed_size) {
			argv[n++] = "-J";
			argv[n++] = buf;
		}
	} else if (!strcmp(fstype, "xfs")) {
		/* -K: no discard at mkfs. AG size stays mkfs' default (size/4 below
		 * 4 TiB): growfs adds whole AGs of that size, so a 100 GiB start reaches
		 * 16 TiB with ~650 AGs, which XFS handles well (docs/DESIGN.md). Thin:
		 * mkfs.xfs zeroes the log, sized for the virtual size (2 GiB at 16 TiB):
		 * on a small pool that fills the data space, so the log is bounded by
		 * the real data space. */
		argv[n++] = "mkfs.xfs";
		argv[n++] = "-q";
		argv[n++] = "-f";
		argv[n++] = "-K";
		if (fixed_size) {
			argv[n++] = "-l";
			argv[n++] = buf;
		}
	} else if (!strcmp(fstype, "btrfs")) {
		argv[n++] = "mkfs.btrfs";
		argv[n++] = "-q";
		argv[n++] = "-f";
		argv[n++] = "-K";
	} else {
		return -EINVAL;
	}
	argv[n++] = "-L";
	argv[n++] = "dmscale";
	argv[n++] = (char *)devnode;
	argv[n] = NULL;
	return 0;
}
