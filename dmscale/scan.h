/* The labelled devices of this machine: a udev scan of whole disks and their labels. */
#ifndef DMSCALE_SCAN_H
#define DMSCALE_SCAN_H
#include <stddef.h>
#include <sys/types.h>
#include "dmscale/device.h"
#include "dmscale/plan.h"

#define DMS_MAX_SCAN 256

struct dms_scan {
	size_t n;                               /* labelled devices found */
	size_t unreadable;                      /* devices whose label could not be read */
	struct dms_device dev[DMS_MAX_SCAN];
	struct dms_found found[DMS_MAX_SCAN];
};

struct dms_scan *dms_scan_new(void);
/* Enumerate whole disks with libudev and read every label (libaio, timeout).
 * Devices beyond DMS_MAX_SCAN are reported and left out. */
int dms_scan_labels(struct dms_scan *s);
/* Read only the labels of the devices devnums[0..n) (one submit): the
 * members of a live table plus a candidate, for an append. A device whose
 * node cannot be found or opened counts as unreadable. The first n_held
 * devices are opened once, DMS_DEV_RW | DMS_DEV_QUIET, and a labelled one's
 * fd stays open in s->dev[].fd for the label writes of the append (no reopen
 * per step); dms_scan_close_fds closes what is left open. */
int dms_scan_devnums(struct dms_scan *s, const dev_t *devnums, size_t n, size_t n_held);
/* Close every fd still open in s->dev[] (s may be NULL). */
void dms_scan_close_fds(struct dms_scan *s);
/* Pure: add a device and its label; -ENOSPC when the scan is full. */
int dms_scan_add(struct dms_scan *s, const struct dms_device *d, const struct dms_label *l, unsigned copies_ok);
/* Index of devnum in the scan, or -1. */
ssize_t dms_scan_find(const struct dms_scan *s, dev_t devnum);
/* Pure: set found[].live on the devices whose devnum is in deps[0..n) (the
 * pool's live dm table), clear it on the others. */
void dms_scan_set_live(struct dms_scan *s, const dev_t *deps, size_t n);
/* dms_scan_set_live from the live table of `pool` (none: nothing is live). */
void dms_scan_mark_live(struct dms_scan *s, const char *pool);
/* Plan the named pool from the scan (live devices marked first); log what is
 * wrong (incomplete, ambiguous) and the clones of live members it ignored. */
int dms_scan_plan_pool(struct dms_scan *s, const char *pool, struct dms_assembly *a);

/* Block-device add events from udev (after its rules ran), for assemble's wait
 * for late members. Open before the scan that may miss a device, so no event
 * between the scan and the wait is lost. */
struct dms_block_watch;
int dms_block_watch_open(struct dms_block_watch **w);
/* 1: a block device was added; 0: timeout_ms passed; -errno. */
int dms_block_watch_wait(struct dms_block_watch *w, int timeout_ms);
void dms_block_watch_close(struct dms_block_watch *w);
#endif
