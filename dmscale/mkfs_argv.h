/* The mkfs command line for a pool's filesystem (pure: no syscalls). */
#ifndef DMSCALE_MKFS_ARGV_H
#define DMSCALE_MKFS_ARGV_H
#include <stdbool.h>
#include <stddef.h>
#include "dmscale/units.h"

#define DMS_MKFS_ARGV_MAX 20

/* Journal (ext4) or log (xfs) size on a thin volume: 1/8 of the real data
 * space, at least 64 MiB (xfsprogs' minimum for new filesystems), at most
 * 1 GiB; a whole number of MiB. The tools' default is sized for the
 * virtual size (2 GiB of xfs log for 16 TiB, zeroed at mkfs). */
bytes_t dms_mkfs_journal_bytes(bytes_t backing_bytes);

/* Fill argv (NULL-terminated, at most DMS_MKFS_ARGV_MAX entries) for mkfs of
 * fstype on devnode. fixed_size: a thin volume of a virtual size larger than
 * backing_bytes, the real data space. buf holds the strings argv points to.
 * 0, or -EINVAL for an unknown fstype, -ENOSPC if buf is too small. */
int dms_mkfs_argv(const char *fstype, const char *devnode, bytes_t backing_bytes, bool fixed_size, char *argv[],
		  char *buf, size_t buflen);
#endif
