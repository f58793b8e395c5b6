/* The labelled devices of this machine: a udev scan of whole disks and their labels. */
#include "dmscale/scan.h"

#include <libudev.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "dmscale/log.h"
#include "dmscale/pool_api.h"
#include "dmscale/udev_disks.h"

struct dms_scan *dms_scan_new(void)
{
	struct dms_scan *s = calloc(1, sizeof(*s));
	if (!s)
		log_error("out of memory");
	return s;
}

int dms_scan_add(struct dms_scan *s, const struct dms_device *d, const struct dms_label *l, unsigned copies_ok)
{
	if (s->n >= DMS_MAX_SCAN)
		return -ENOSPC;
	s->dev[s->n] = *d;
	s->found[s->n].devnode = s->dev[s->n].node;
	s->found[s->n].label = *l;
	s->found[s->n].torn = (3u & ~copies_ok) | ((copies_ok >> 2) & 3u);   /* torn or stale */
	s->n++;
	return 0;
}

static bool skipped(const char *sys)
{
	static const char *const prefixes[] = { "dm-", "loop", "ram", "zram", "sr" };
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncmp(sys, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

/* Add the labels read for devs[0..n) (results from dms_device_read_labels). */
static void add_read(struct dms_scan *s, struct dms_device *devs, size_t n, const struct dms_label *labels,
		     const unsigned *ok, const int *results)
{
	for (size_t i = 0; i < n; i++) {
		const char *node = devs[i].node;
		if (results[i] != 0 || !dms_label_fits_device(&labels[i], devs[i].size_bytes) || s->n >= DMS_MAX_SCAN)
			dms_device_close(&devs[i]);     /* not kept (below): no fd held open for it */
		if (results[i] == -ENODATA)
			continue;
		if (results[i] < 0) {
			s->unreadable++;
			log_warning_errno(results[i], "%s: unreadable dmscale label, ignoring the device: %m", node);
			continue;
		}
		if (!dms_label_fits_device(&labels[i], devs[i].size_bytes)) {
			const struct dms_label *l = &labels[i];
			s->unreadable++;
			log_warning("%s: its label (pool %s, member %u) describes a %llu-byte device but the device has "
				    "%llu bytes (it shrank, or the label was copied from a bigger disk); ignoring the "
				    "device, nothing is written to it", node, l->pool_name, l->member_index,
				    (unsigned long long)l->members[l->member_index < DMS_MAX_MEMBERS ? l->member_index : 0].size_bytes,
				    (unsigned long long)devs[i].size_bytes);
			continue;
		}
		if (dms_scan_add(s, &devs[i], &labels[i], ok[i]) < 0) {
			s->unreadable++;
			log_warning("%s: more than %d labelled devices on this system; ignoring this one", node,
				    DMS_MAX_SCAN);
			continue;
		}
		if ((ok[i] & 3) != 3)
			log_warning("%s: only label copy %s is valid; it will be rewritten", node,
				    (ok[i] & 3) == 1 ? "A" : "B");
		else if (ok[i] & (DMS_COPY_A_STALE | DMS_COPY_B_STALE))
			log_notice("%s: label copy %s is one generation behind; it will be rewritten", node,
				   (ok[i] & DMS_COPY_A_STALE) ? "A" : "B");
	}
}

/* Every label read in one batched submit (device.h), not one device at a time:
 * a boot with many volumes waits for the slowest one once. */
struct scan_batch {
	size_t n, cap;
	struct dms_device *dev;
};

static int batch_push(struct scan_batch *b, const struct dms_device *d)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 32;
		struct dms_device *nd = realloc(b->dev, cap * sizeof(*nd));
		if (!nd)
			return -ENOMEM;
		b->dev = nd;
		b->cap = cap;
	}
	b->dev[b->n++] = *d;
	return 0;
}

static int read_batch(struct dms_scan *s, struct scan_batch *b)
{
	struct dms_device **pp = calloc(b->n ? b->n : 1, sizeof(*pp)); /* NOLINT(bugprone-sizeof-expression): an array of pointers */
	struct dms_label *labels = calloc(b->n ? b->n : 1, sizeof(*labels));
	unsigned *ok = calloc(b->n ? b->n : 1, sizeof(*ok));
	int *results = calloc(b->n ? b->n : 1, sizeof(*results));
	int r = -ENOMEM;
	if (pp && labels && ok && results) {
		for (size_t i = 0; i < b->n; i++)
			pp[i] = &b->dev[i];
		r = dms_device_read_labels(pp, b->n, labels, ok, results);
		if (r == 0)
			add_read(s, b->dev, b->n, labels, ok, results);
	}
	free(results);
	free(ok);
	free(labels);
	free(pp);
	return r < 0 ? log_error_errno(-r, "cannot read the labels of %zu devices: %m", b->n) : 0;
}

/* dms_scan_labels' walk over the disks: inspect each, batch its label read. */
struct scan_walk {
	struct dms_scan *s;
	struct scan_batch b;
	int r;                          /* the first batch_push error */
};

static void scan_disk(struct udev_device *ud, const char *node, const char *sys, void *ctx)
{
	struct scan_walk *w = ctx;
	struct dms_device d;
	(void)ud;
	if (skipped(sys))
		return;
	if (dms_device_inspect(node, &d) < 0)
		w->s->unreadable++;
	else if (w->r == 0)
		w->r = batch_push(&w->b, &d);
}

int dms_scan_labels(struct dms_scan *s)
{
	struct scan_walk w = { .s = s };
	s->n = 0;
	s->unreadable = 0;
	int r = dms_udev_disks_foreach(scan_disk, &w);
	if (r < 0)
		return r;
	if (w.r < 0) {
		free(w.b.dev);
		return log_error_errno(-w.r, "out of memory");
	}
	r = read_batch(s, &w.b);
	free(w.b.dev);
	return r;
}

/* "/dev/NAME" of a block device number, from sysfs (no udev database walk). */
static int node_of_devnum(dev_t devnum, char *out, size_t len)
{
	char path[64], line[300];
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/uevent", major(devnum), minor(devnum));
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	int r = -ENOENT;
	while (r < 0 && fgets(line, sizeof(line), f))
		if (!strncmp(line, "DEVNAME=", 8)) {
			line[strcspn(line, "\n")] = 0;
			r = snprintf(out, len, "/dev/%s", line + 8) < (int)len ? 0 : -ENAMETOOLONG;
		}
	fclose(f);
	return r;
}

static int inspect_devnum(dev_t devnum, bool held, struct dms_device *d)
{
	char node[256];
	int r = node_of_devnum(devnum, node, sizeof(node));
	if (r < 0)
		return r;
	if (held)
		return dms_device_inspect_open(node, devnum, DMS_DEV_RW | DMS_DEV_QUIET, d);
	r = dms_device_inspect(node, d);
	return r < 0 ? r : d->devnum == devnum ? 0 : -ESTALE;
}

int dms_scan_devnums(struct dms_scan *s, const dev_t *devnums, size_t n, size_t n_held)
{
	struct scan_batch b = { 0 };
	int r = 0;
	s->n = 0;
	s->unreadable = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		struct dms_device d;
		if (inspect_devnum(devnums[i], i < n_held, &d) < 0)
			s->unreadable++;
		else if ((r = batch_push(&b, &d)) < 0)
			dms_device_close(&d);
	}
	if (r == 0)
		r = read_batch(s, &b);
	else
		r = log_error_errno(-r, "out of memory");
	for (size_t i = 0; r < 0 && i < b.n; i++)
		dms_device_close(&b.dev[i]);
	free(b.dev);
	return r;
}

void dms_scan_close_fds(struct dms_scan *s)
{
	for (size_t k = 0; s && k < s->n; k++)
		dms_device_close(&s->dev[k]);
}

ssize_t dms_scan_find(const struct dms_scan *s, dev_t devnum)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->dev[i].devnum == devnum)
			return (ssize_t)i;
	return -1;
}

void dms_scan_set_live(struct dms_scan *s, const dev_t *deps, size_t n)
{
	for (size_t k = 0; k < s->n; k++) {
		s->found[k].live = false;
		for (size_t i = 0; i < n; i++)
			s->found[k].live |= s->dev[k].devnum == deps[i];
	}
}

void dms_scan_mark_live(struct dms_scan *s, const char *pool)
{
	dev_t deps[DMS_MAX_MEMBERS];
	size_t n = 0;
	if (dms_pool_live_deps(pool, deps, DMS_MAX_MEMBERS, &n) < 0)
		n = 0;
	dms_scan_set_live(s, deps, n);
}

static const char *node_of(const struct dms_scan *s, size_t k)
{
	return k < s->n ? s->dev[k].node : "?";
}

int dms_scan_plan_pool(struct dms_scan *s, const char *pool, struct dms_assembly *a)
{
	dms_scan_mark_live(s, pool);
	int r = dms_plan_assembly(s->found, s->n, pool, NULL, a);
	if (r == 0 || r == -ENODEV)
		for (size_t i = 0; i < a->clones && i < DMS_MAX_MEMBERS; i++)
			log_warning("pool %s: %s carries the same member label as %s, which the live pool uses (a "
				    "cloned or snapshot-restored copy): ignoring it; it is never written, mounted or "
				    "deleted. Detach it", pool, node_of(s, a->clone_found[i]), node_of(s, a->clone_of[i]));
	if (r == -ENODEV) {
		char list[2048] = "";
		size_t off = 0;
		for (size_t i = 0; i < a->missing_count && off < sizeof(list) - 1; i++)
			off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "", a->missing[i]);
		return log_error_errno(ENODEV, "pool %s (generation %llu) is incomplete: missing %s. Attach the "
				       "missing volume(s); refusing to activate a shorter target under the "
				       "filesystem", pool, (unsigned long long)a->generation, list);
	}
	if (r == -EUCLEAN)
		return log_error_errno(EUCLEAN, "pool %s: member labels at generation %llu disagree (two "
				       "interrupted attaches?); refusing to guess. Inspect the labels of its "
				       "volumes before forcing anything", pool, (unsigned long long)a->generation);
	if (r == -ENOTUNIQ && a->dup_found[0] != SIZE_MAX)
		return log_error_errno(ENOTUNIQ, "pool %s: %s and %s carry the same member label (one is a cloned or "
				       "snapshot-restored copy of the other) and the pool is not active, so dmscale "
				       "cannot tell which is the member; refusing. Detach the copy and run "
				       "'dmscale assemble --name %s'", pool, node_of(s, a->dup_found[0]),
				       node_of(s, a->dup_found[1]), pool);
	if (r == -ENOTUNIQ)
		return log_error_errno(ENOTUNIQ, "pool %s: its name is carried by more than one pool (different pool "
				       "uuids); refusing to guess. Detach the other pool's volumes", pool);
	return r;
}

struct dms_block_watch {
	struct udev *udev;
	struct udev_monitor *mon;
};

int dms_block_watch_open(struct dms_block_watch **out)
{
	struct dms_block_watch *w = calloc(1, sizeof(*w));
	*out = NULL;
	if (!w)
		return log_error_errno(ENOMEM, "out of memory");
	w->udev = udev_new();
	w->mon = w->udev ? udev_monitor_new_from_netlink(w->udev, "udev") : NULL;
	if (!w->mon || udev_monitor_filter_add_match_subsystem_devtype(w->mon, "block", "disk") < 0 ||
	    udev_monitor_enable_receiving(w->mon) < 0) {
		dms_block_watch_close(w);
		return log_error_errno(EIO, "libudev: cannot watch block devices; waiting by polling");
	}
	*out = w;
	return 0;
}

int dms_block_watch_wait(struct dms_block_watch *w, int timeout_ms)
{
	if (!w) {       /* no monitor: plain polling */
		poll(NULL, 0, timeout_ms);
		return 0;
	}
	struct pollfd p = { .fd = udev_monitor_get_fd(w->mon), .events = POLLIN };
	int added = 0;
	int r = poll(&p, 1, timeout_ms);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	/* Drain what is queued; any add counts. */
	while (r > 0) {
		struct udev_device *d = udev_monitor_receive_device(w->mon);
		if (!d)
			break;
		const char *action = udev_device_get_action(d);
		if (action && (!strcmp(action, "add") || !strcmp(action, "change")))
			added = 1;
		udev_device_unref(d);
		r = poll(&p, 1, 0);
	}
	return added;
}

void dms_block_watch_close(struct dms_block_watch *w)
{
	if (!w)
		return;
	udev_monitor_unref(w->mon);
	udev_unref(w->udev);
	free(w);
}
