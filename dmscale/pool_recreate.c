/* Scratch recreate of a pool whose instance storage was lost (stop/start, a
 * replaced disk): find the blank instance-store disks, plan (recreate.c), log
 * what is discarded, write the labels through checked exclusive fds. */
#include "dmscale/pool_recreate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dmscale/device.h"
#include "dmscale/istore.h"
#include "dmscale/log.h"
#include "dmscale/recreate.h"
#include "dmscale/stripe.h"
#include "dmscale/uuid.h"

struct rc_ctx {
	struct dms_device *dev[DMS_MAX_MEMBERS];
};

static int io_zero(void *ctx, uint32_t member, bytes_t off, bytes_t len)
{
	struct rc_ctx *c = ctx;
	return dms_device_zero(c->dev[member], off, len);
}

static int io_write(void *ctx, const uint32_t *members, const struct dms_label *labels, size_t n, unsigned copy)
{
	struct rc_ctx *c = ctx;
	struct dms_device *devs[DMS_MAX_MEMBERS];
	for (size_t i = 0; i < n; i++)
		devs[i] = c->dev[members[i]];
	return dms_device_write_labels(devs, labels, n, copy);
}

static void list_blank(const struct dms_recreate_blank *b, size_t n, char *out, size_t len)
{
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n && o < len; i++) {
		int w = snprintf(out + o, len - o, "%s%s", i ? ", " : "", b[i].devnode);
		if (w < 0)
			break;
		o += (size_t)w;
	}
	if (n == 0)
		snprintf(out, len, "none");
}

static int execute(const char *pool, struct dms_scan *s, const struct dms_recreate_spec *spec,
		   const struct dms_recreate_plan *p)
{
	static struct dms_device blanks[DMS_ISTORE_MAX];
	struct rc_ctx c;
	int r = 0;
	uint32_t i, opened = 0;
	const struct dms_label *l = &p->label;
	memset(&c, 0, sizeof(c));
	for (i = 0; i < l->member_count && r == 0; i++) {
		const struct dms_recreate_src *src = &p->src[i];
		if (src->blank) {
			c.dev[i] = &blanks[src->index];
			if ((r = dms_device_inspect(spec->blank[src->index].devnode, c.dev[i])) == 0)
				r = dms_device_open_excl(c.dev[i]);   /* the last "not in use" check */
		} else {
			c.dev[i] = &s->dev[src->index];
			r = dms_device_open_checked(c.dev[i], DMS_DEV_RW | DMS_DEV_EXCL);
		}
		if (r < 0)
			log_error("%s: cannot open it exclusively (%s); pool %s not recreated, nothing was written",
				  c.dev[i]->node, strerror(-r), pool);
		else
			opened = i + 1;
	}
	if (r == 0) {
		const struct dms_recreate_io io = { .ctx = &c, .zero = io_zero, .write_copy = io_write };
		enum dms_recreate_step step = DMS_RECREATE_ZERO;
		r = dms_recreate_run(p, &io, &step);
		if (r < 0)
			log_error("pool %s: the recreate stopped at step %d (%s); the next 'dmscale assemble' plans it "
				  "again from what the labels say", pool, (int)step, strerror(-r));
	}
	for (i = 0; i < opened; i++)
		dms_device_close(c.dev[i]);
	return r;
}

int dms_pool_recreate(const char *pool, struct dms_scan *s, const struct dms_pool_params *pp)
{
	if (pp->scratch == DMS_SCRATCH_IGNORE)
		return DMS_RECREATE_NOT_NEEDED;
	struct dms_istore_list *is = calloc(1, sizeof(*is));
	struct dms_recreate_spec *spec = calloc(1, sizeof(*spec));
	struct dms_recreate_plan *p = calloc(1, sizeof(*p));
	static struct dms_recreate_blank blank[DMS_ISTORE_MAX];
	int r = -ENOMEM;
	if (!is || !spec || !p)
		goto out;
	spec->name = pool;
	spec->found = s->found;
	spec->n = s->n;
	spec->chunk_bytes = DMS_STRIPE_CHUNK_BYTES;
	/* Cheap first (labels only, every boot): is a recreate due at all? */
	r = dms_recreate_plan(spec, p);
	if (r == DMS_RECREATE_NOT_NEEDED)
		goto out;
	if ((r = dms_istore_scan(is)) < 0)
		goto out;
	for (size_t i = 0; i < is->n; i++) {
		const char *why = dms_istore_refusal(&is->disk[i]);
		if (why) {
			if (is->disk[i].label <= 0)
				log_info("%s: instance-store disk, not used by a recreate: %s", is->disk[i].node, why);
			continue;
		}
		blank[spec->nblank++] = (struct dms_recreate_blank){ is->disk[i].node, is->disk[i].size_bytes };
	}
	spec->blank = blank;
	dms_uuid_generate(spec->new_pool_uuid);
	for (size_t i = 0; i < DMS_MAX_STRIPE; i++)
		dms_uuid_generate(spec->new_member_uuid[i]);
	spec->now_unix = (uint64_t)time(NULL);
	r = dms_recreate_plan(spec, p);
	if (r == DMS_RECREATE_NOT_NEEDED)
		goto out;
	if (r == -ENODEV) {
		log_error("pool %s: its instance storage is lost, and EBS member %s%s is missing too: waiting for it "
			  "before recreating", pool, p->missing[0], p->missing_count > 1 ? " (and others)" : "");
		goto out;
	}
	if (r < 0) {
		r = log_error_errno(r, "pool %s: its labels cannot be recreated as they are: %m; inspect them with "
				    "'dmscale status --name %s'", pool, pool);
		goto out;
	}
	char old[37], nu[37], blanks[512];
	dms_uuid_format(p->old_pool_uuid, old);
	dms_uuid_format(p->label.pool_uuid, nu);
	list_blank(spec->blank, spec->nblank, blanks, sizeof(blanks));
	const bool short_of_disks = dms_recreate_short(p, is->uninitialized);
	if (short_of_disks && pp->istore_may_wait) {
		if (is->uninitialized)
			log_info("pool %s: %zu NVMe disk(s) not yet probed by udev; waiting before recreating", pool,
				 is->uninitialized);
		else
			log_info("pool %s: it had %u instance-store disk(s), %u usable found so far (blank: %s); "
				 "waiting for the others before recreating", pool, p->old_istore_count,
				 p->istore_count, blanks);
		r = -ENODEV;
		goto out;
	}
	if (pp->scratch == DMS_SCRATCH_REFUSE) {
		r = log_error_errno(ECANCELED, "pool %s (uuid %s): its instance storage came back blank (%u "
				    "instance-store member(s) lost; blank instance-store disks: %s) and "
				    "scratch_recreate is false: not assembling it. Set \"scratch_recreate\": true in "
				    "/etc/dmscale/dmscale.json to recreate it empty, or restore the disks", pool, old,
				    p->lost_count, blanks);
		goto out;
	}
	if (short_of_disks)
		log_warning("pool %s: it had %u instance-store disk(s); %u usable now (blank: %s)%s: recreating "
			    "over these (a disk refused above, a disk that did not appear in time, or an instance type "
			    "with fewer disks)",
			    pool, p->old_istore_count, p->istore_count, blanks,
			    is->uninitialized ? ", and udev has not probed every NVMe disk" : "");
	log_warning("pool %s: its instance storage is lost (%u member(s) gone%s): recreating it empty at pool uuid "
		    "%s (epoch %u) over %u instance-store disk(s) (%s) and %u EBS member(s). DISCARDED: the data of "
		    "pool uuid %s (%llu bytes)", pool, p->lost_count,
		    p->incarnations > 1 ? ", finishing an interrupted recreate" : "", nu, p->label.recreate_epoch,
		    p->istore_count, blanks, p->label.member_count - p->istore_count, old,
		    (unsigned long long)p->old_data_bytes);
	if (p->ignored_blank)
		log_warning("pool %s: %zu instance-store disk(s) beyond %d are left out of the stripe", pool,
			    p->ignored_blank, DMS_MAX_STRIPE);
	r = execute(pool, s, spec, p);
	if (r == 0)
		log_notice("pool %s: relabelled as a new empty pool (uuid %s, %u member(s)%s)", pool, nu,
			   p->label.member_count, p->label.stripe_count ? ", striped first tier" : "");
out:
	free(p);
	free(spec);
	free(is);
	return r;
}
