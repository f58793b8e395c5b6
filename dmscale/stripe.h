/* dm-stripe (pure): the first tier of a pool over instance-store disks: chunk
 * size, the members' common data area, the table params. */
#ifndef DMSCALE_STRIPE_H
#define DMSCALE_STRIPE_H
#include <stddef.h>
#include <sys/types.h>
#include "dmscale/label.h"
#include "dmscale/plan.h"

/* The chunk dmscale stripes with (docs/FORMAT.md §6.2 says why). */
#define DMS_STRIPE_CHUNK_BYTES (256 * KIB)

/* Make members[0..n) (laid out, kind instance-store) one stripe: every data
 * area cut to the shortest one, rounded down to a whole number of chunks;
 * sets l->stripe_count and l->stripe_chunk_bytes (n >= 2), or leaves a single
 * member linear (n == 1). -EINVAL: n out of range, -ERANGE: a data area
 * smaller than one chunk. */
int dms_stripe_layout(struct dms_label *l, uint32_t n, bytes_t chunk_bytes);

/* "N CHUNK_SECTORS MAJ:MIN OFFSET ..." for a striped segment of l, with the
 * device numbers of its members (devnums indexed by member index). -ENOSPC
 * when out is too short, -EINVAL for a segment that is not striped. */
int dms_stripe_params(const struct dms_label *l, const struct dms_segment *s, const dev_t *devnums, char *out,
		      size_t outlen);
#endif
