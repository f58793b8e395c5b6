/* dm-stripe (pure): the first tier of a pool over instance-store disks. */
#include "dmscale/stripe.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/sysmacros.h>

int dms_stripe_layout(struct dms_label *l, uint32_t n, bytes_t chunk_bytes)
{
	if (!l || n < 1 || n > DMS_MAX_STRIPE || n > l->member_count)
		return -EINVAL;
	if (n == 1) {
		l->stripe_count = 0;
		l->stripe_chunk_bytes = 0;
		return 0;
	}
	if (chunk_bytes < DMS_STRIPE_CHUNK_MIN || chunk_bytes > DMS_STRIPE_CHUNK_MAX ||
	    (chunk_bytes & (chunk_bytes - 1)))
		return -EINVAL;
	bytes_t common = l->members[0].data_bytes;
	for (uint32_t i = 1; i < n; i++)
		if (l->members[i].data_bytes < common)
			common = l->members[i].data_bytes;
	common = align_down(common, chunk_bytes);
	/* data areas stay 1 MiB multiples (FORMAT.md §2.2) */
	common = align_down(common, DMS_DATA_ALIGN_BYTES);
	if (common == 0 || common % chunk_bytes)
		return -ERANGE;
	for (uint32_t i = 0; i < n; i++)
		l->members[i].data_bytes = common;
	l->stripe_count = n;
	l->stripe_chunk_bytes = chunk_bytes;
	return 0;
}

int dms_stripe_params(const struct dms_label *l, const struct dms_segment *s, const dev_t *devnums, char *out,
		      size_t outlen)
{
	if (!l || !s || !devnums || !out || outlen == 0 || s->stripes < 2 ||
	    s->member_index + s->stripes > l->member_count)
		return -EINVAL;
	size_t o = 0;
	int r = snprintf(out, outlen, "%u %" PRIu64, s->stripes, (uint64_t)s->chunk_sectors);
	if (r < 0)
		return -EINVAL;
	o = (size_t)r;
	for (uint32_t i = 0; i < s->stripes && o < outlen; i++) {
		const uint32_t m = s->member_index + i;
		dev_t d = devnums[m];
		r = snprintf(out + o, outlen - o, " %u:%u %" PRIu64, major(d), minor(d),
			     (uint64_t)bytes_to_sectors(l->members[m].data_offset_bytes));
		if (r < 0)
			return -EINVAL;
		o += (size_t)r;
	}
	if (o >= outlen)
		return -ENOSPC;
	return 0;
}
