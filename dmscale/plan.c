/* Planning (pure): which devices form which pool, and the dm tables.
 * The assembly rules are specified in docs/FORMAT.md §6. */
#include "dmscale/plan.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "dmscale/log.h"
#include "dmscale/thin.h"

static int member_equal(const struct dms_member *x, const struct dms_member *y)
{
	return memcmp(x->uuid, y->uuid, 16) == 0 &&
	       strncmp(x->volume_id, y->volume_id, DMS_VOLUME_ID_MAX) == 0 &&
	       x->size_bytes == y->size_bytes && x->data_offset_bytes == y->data_offset_bytes &&
	       x->data_bytes == y->data_bytes && x->kind == y->kind;
}

/* Two labels of one generation must describe the same pool state: everything
 * except the per-device fields (member_uuid, member_index) and created_unix
 * (informative only). */
static int same_pool_state(const struct dms_label *a, const struct dms_label *b)
{
	if (a->generation != b->generation || memcmp(a->pool_uuid, b->pool_uuid, 16) ||
	    strncmp(a->pool_name, b->pool_name, DMS_POOL_NAME_MAX) ||
	    strncmp(a->fs_type, b->fs_type, DMS_FSTYPE_MAX) || a->target != b->target ||
	    a->thin_meta_offset_bytes != b->thin_meta_offset_bytes ||
	    a->thin_meta_bytes != b->thin_meta_bytes ||
	    a->thin_virtual_bytes != b->thin_virtual_bytes ||
	    a->thin_meta_active_bytes != b->thin_meta_active_bytes || a->member_count != b->member_count ||
	    a->version != b->version || a->stripe_count != b->stripe_count ||
	    a->stripe_chunk_bytes != b->stripe_chunk_bytes || memcmp(a->lineage_uuid, b->lineage_uuid, 16) ||
	    a->recreate_epoch != b->recreate_epoch)
		return 0;
	for (uint32_t i = 0; i < a->member_count; i++)
		if (!member_equal(&a->members[i], &b->members[i]))
			return 0;
	return 1;
}

/* Member lists only grow by appending: an older label's list must be a prefix
 * of the newer one. */
static int is_prefix(const struct dms_label *older, const struct dms_label *newer)
{
	if (older->member_count > newer->member_count)
		return 0;
	for (uint32_t i = 0; i < older->member_count; i++)
		if (!member_equal(&older->members[i], &newer->members[i]))
			return 0;
	return 1;
}

static int pool_selected(const struct dms_label *l, const uint8_t *pool_uuid)
{
	return memcmp(l->pool_uuid, pool_uuid, 16) == 0;
}

/* Is found[k] a clone of a live member: not in the live table itself, while a
 * device that is carries the same pool and member uuid at a generation at
 * least as new (a copy is never newer than what it was copied from)? Then it
 * is ignored (docs/FORMAT.md §6 rule 2). Returns the live twin, or SIZE_MAX. */
/* The found labels of one assembly, with each label's validity remembered:
 * the assembly asks about a label many times (dms_label_validate is linear in
 * its member count). Labels past PLAN_MEMO are checked every time. */
#define PLAN_MEMO 256
struct plan_in {
	const struct dms_found *found;
	size_t n;
	int8_t memo[PLAN_MEMO];         /* 0: not asked yet, 1: valid, -1: not */
};

static bool valid_at(struct plan_in *in, size_t k)
{
	if (k >= PLAN_MEMO)
		return dms_label_validate(&in->found[k].label) == 0;
	if (!in->memo[k])
		in->memo[k] = dms_label_validate(&in->found[k].label) == 0 ? 1 : -1;
	return in->memo[k] > 0;
}

static size_t live_twin(struct plan_in *in, size_t k)
{
	const struct dms_found *found = in->found;
	const size_t n = in->n;
	const struct dms_label *l = &found[k].label;
	if (found[k].live)
		return SIZE_MAX;
	for (size_t j = 0; j < n; j++) {
		const struct dms_label *o = &found[j].label;
		if (j != k && found[j].live && !memcmp(o->pool_uuid, l->pool_uuid, 16) &&
		    !memcmp(o->member_uuid, l->member_uuid, 16) && o->generation >= l->generation &&
		    valid_at(in, j))
			return j;
	}
	return SIZE_MAX;
}

/* A valid label of the selected pool that takes part in the assembly. */
static bool counts(struct plan_in *in, size_t k, const uint8_t *target, bool any_live)
{
	return pool_selected(&in->found[k].label, target) && valid_at(in, k) &&
	       !(any_live && live_twin(in, k) != SIZE_MAX);
}

int dms_plan_assembly(const struct dms_found *found, size_t n, const char *pool_name,
		      const uint8_t *pool_uuid, struct dms_assembly *out)
{
	uint8_t target[16];
	char ustr[37];

	if (!out || (n > 0 && !found) || (!pool_name && !pool_uuid))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < DMS_MAX_MEMBERS; i++)
		out->member_found[i] = SIZE_MAX;
	out->dup_found[0] = out->dup_found[1] = SIZE_MAX;
	struct plan_in in = { .found = found, .n = n };
	bool any_live = false;
	for (size_t k = 0; k < n; k++)
		any_live |= found[k].live;

	/* 1. Which pool: by uuid, or the single pool uuid carrying that name.
	 *    Labels that are not structurally valid are ignored throughout. */
	if (pool_uuid) {
		memcpy(target, pool_uuid, 16);
	} else {
		int have = 0;
		for (size_t k = 0; k < n; k++) {
			const struct dms_label *l = &found[k].label;
			if (!valid_at(&in, k)) {
				log_debug("%s: ignoring invalid label", found[k].devnode ? found[k].devnode : "?");
				continue;
			}
			if (strcmp(l->pool_name, pool_name) != 0)
				continue;
			if (!have) {
				memcpy(target, l->pool_uuid, 16);
				have = 1;
			} else if (memcmp(target, l->pool_uuid, 16) != 0) {
				log_debug("pool name %s is carried by more than one pool uuid", pool_name);
				return -ENOTUNIQ;
			}
		}
		if (!have)
			return -ENOENT;
	}

	/* 2. The labels of that pool: newest generation, duplicate member uuids.
	 *    A clone of a device in the live table is ignored; other duplicates
	 *    cannot be told apart. */
	size_t newest_k = SIZE_MAX;
	for (size_t k = 0; k < n; k++) {
		const struct dms_label *l = &found[k].label;
		if (!pool_selected(l, target) || !valid_at(&in, k))
			continue;
		size_t twin = any_live ? live_twin(&in, k) : SIZE_MAX;
		if (twin != SIZE_MAX) {
			if (out->clones < DMS_MAX_MEMBERS) {
				out->clone_found[out->clones] = k;
				out->clone_of[out->clones] = twin;
			}
			out->clones++;
			continue;
		}
		for (size_t j = 0; j < k; j++) {
			const struct dms_label *o = &found[j].label;
			/* cheap tests first: validate only on a match */
			if (!pool_selected(o, target) || memcmp(o->member_uuid, l->member_uuid, 16) != 0 ||
			    !counts(&in, j, target, any_live))
				continue;
			dms_uuid_format(l->member_uuid, ustr);
			log_debug("member %s seen on both %s and %s (cloned volume?)", ustr,
				  found[j].devnode ? found[j].devnode : "?",
				  found[k].devnode ? found[k].devnode : "?");
			out->dup_found[0] = j;
			out->dup_found[1] = k;
			return -ENOTUNIQ;
		}
		if (newest_k == SIZE_MAX || l->generation > found[newest_k].label.generation)
			newest_k = k;
	}
	if (newest_k == SIZE_MAX)
		return -ENOENT;

	const uint64_t gen = found[newest_k].label.generation;

	/* 3. Every label carrying the newest generation must agree on the pool
	 *    state. If they do not (an append of X crashed after X's own label, X
	 *    was absent when an append of Y reused the generation): a state that
	 *    an existing member confirms (a label that is not the last entry of
	 *    its own table) wins; states carried only by their own appended
	 *    device lose and those devices are ignored (§6 rule 6). Two confirmed
	 *    states, or none, cannot be resolved. */
	size_t chosen = newest_k;
	bool conflict = false;
	for (size_t k = 0; k < n; k++) {
		const struct dms_label *l = &found[k].label;
		if (l->generation == gen && counts(&in, k, target, any_live) &&
		    !same_pool_state(l, &found[newest_k].label))
			conflict = true;
	}
	if (conflict) {
		chosen = SIZE_MAX;
		for (size_t k = 0; k < n; k++) {
			const struct dms_label *l = &found[k].label;
			if (l->generation != gen || !counts(&in, k, target, any_live) ||
			    l->member_index + 1 >= l->member_count)
				continue;       /* not a confirmation by an existing member */
			if (chosen == SIZE_MAX) {
				chosen = k;
			} else if (!same_pool_state(l, &found[chosen].label)) {
				chosen = SIZE_MAX;
				break;
			}
		}
		if (chosen == SIZE_MAX) {
			log_debug("labels of pool %s disagree about generation %" PRIu64 " and no existing member "
				  "settles it", found[newest_k].label.pool_name, gen);
			return -EUCLEAN;
		}
		for (size_t k = 0; k < n; k++) {
			const struct dms_label *l = &found[k].label;
			if (l->generation == gen && counts(&in, k, target, any_live) &&
			    !same_pool_state(l, &found[chosen].label)) {
				/* the loser must be a device the winning table does not hold */
				const struct dms_label *w = &found[chosen].label;
				for (uint32_t i = 0; i < w->member_count; i++)
					if (memcmp(w->members[i].uuid, l->member_uuid, 16) == 0)
						return -EUCLEAN;
				log_debug("%s: its generation %" PRIu64 " lost to the one existing members carry; "
					  "ignoring it", found[k].devnode ? found[k].devnode : "?", gen);
			}
		}
	}
	const struct dms_label *newest = &found[chosen].label;

	memcpy(out->pool_uuid, newest->pool_uuid, 16);
	memcpy(out->pool_name, newest->pool_name, DMS_POOL_NAME_MAX);
	out->generation = gen;
	out->newest_generation = gen;
	out->label = *newest;

	/* 4. Map each member of the newest list to the device carrying it. */
	for (uint32_t i = 0; i < newest->member_count; i++) {
		const struct dms_member *m = &newest->members[i];
		size_t at = SIZE_MAX;
		for (size_t k = 0; k < n; k++) {
			const struct dms_label *l = &found[k].label;
			if (!pool_selected(l, target) || memcmp(l->member_uuid, m->uuid, 16) != 0 ||
			    !counts(&in, k, target, any_live))
				continue;
			at = k;
			break;
		}
		if (at == SIZE_MAX) {
			char *dst = out->missing[out->missing_count++];
			if (m->volume_id[0]) {
				snprintf(dst, sizeof(out->missing[0]), "%s", m->volume_id);
			} else {
				dms_uuid_format(m->uuid, ustr);
				snprintf(dst, sizeof(out->missing[0]), "member %s", ustr);
			}
			continue;
		}
		const struct dms_label *own = &found[at].label;
		/* The device's own (possibly older) view must be a prefix of the
		 * chosen list, with itself at the same index. */
		if (own->member_index != i || !is_prefix(own, newest)) {
			dms_uuid_format(m->uuid, ustr);
			log_debug("%s: label of member %s contradicts generation %" PRIu64,
				  found[at].devnode ? found[at].devnode : "?", ustr, gen);
			return -EUCLEAN;
		}
		out->member_found[i] = at;
		out->stale[i] = own->generation < gen;
		out->repair[i] = found[at].torn != 0;
	}

	if (out->missing_count > 0) {
		log_debug("pool %s generation %" PRIu64 ": %zu of %" PRIu32 " members missing, first %s",
			  out->pool_name, gen, out->missing_count, newest->member_count, out->missing[0]);
		return -ENODEV;
	}
	return 0;
}

static bool member_area_ok(const struct dms_member *m)
{
	return m->data_bytes && m->data_bytes % SECTOR_BYTES == 0 && m->data_offset_bytes &&
	       m->data_offset_bytes % SECTOR_BYTES == 0;
}

int dms_plan_linear(const struct dms_label *l, struct dms_table *t)
{
	if (!l || !t)
		return -EINVAL;
	memset(t, 0, sizeof(*t));
	if (l->member_count < 1 || l->member_count > DMS_MAX_MEMBERS)
		return -EINVAL;

	sectors_t start = 0;
	uint32_t first = 0;
	size_t k = 0;
	if (l->stripe_count >= 2) {
		/* The first segment: dm-stripe over members 0..stripe_count-1, all
		 * with the same data area length, a whole number of chunks. */
		if (l->stripe_count > DMS_MAX_STRIPE || l->stripe_count > l->member_count ||
		    !l->stripe_chunk_bytes || l->stripe_chunk_bytes % SECTOR_BYTES)
			goto inval;
		for (uint32_t i = 0; i < l->stripe_count; i++)
			if (!member_area_ok(&l->members[i]) || l->members[i].data_bytes != l->members[0].data_bytes ||
			    l->members[i].data_bytes % l->stripe_chunk_bytes)
				goto inval;
		sectors_t each = bytes_to_sectors(l->members[0].data_bytes);
		if (each > UINT64_MAX / l->stripe_count)
			goto inval;
		t->seg[k++] = (struct dms_segment){
			.start_sectors = 0,
			.length_sectors = each * l->stripe_count,
			.member_index = 0,
			.offset_sectors = bytes_to_sectors(l->members[0].data_offset_bytes),
			.stripes = l->stripe_count,
			.chunk_sectors = bytes_to_sectors(l->stripe_chunk_bytes),
		};
		start = each * l->stripe_count;
		first = l->stripe_count;
	}
	for (uint32_t i = first; i < l->member_count; i++) {
		const struct dms_member *m = &l->members[i];
		if (!member_area_ok(m))
			goto inval;
		sectors_t len = bytes_to_sectors(m->data_bytes);
		if (start > UINT64_MAX - len)
			goto inval;
		t->seg[k++] = (struct dms_segment){
			.start_sectors = start,
			.length_sectors = len,
			.member_index = i,
			.offset_sectors = bytes_to_sectors(m->data_offset_bytes),
		};
		start += len;
	}
	t->count = k;
	t->total_sectors = start;
	return 0;
inval:
	memset(t, 0, sizeof(*t));
	return -EINVAL;
}

int dms_segment_params(const struct dms_segment *s, unsigned major, unsigned minor, char *out, size_t outlen)
{
	if (!s || !out || outlen == 0)
		return -EINVAL;
	int r = snprintf(out, outlen, "%u:%u %" PRIu64, major, minor, (uint64_t)s->offset_sectors);
	if (r < 0)
		return -EINVAL;
	if ((size_t)r >= outlen)
		return -ENOSPC;
	return 0;
}

int dms_plan_append(const struct dms_label *cur, const struct dms_member *new_member, struct dms_label *next)
{
	if (!cur || !new_member || !next)
		return -EINVAL;
	if (cur->member_count >= DMS_MAX_MEMBERS)
		return -E2BIG;
	if (cur->generation == UINT64_MAX)
		return -EOVERFLOW;

	/* cur, new_member and next may alias: build in a temporary. */
	struct dms_label tmp = *cur;
	const uint32_t i = cur->member_count;
	tmp.members[i] = *new_member;
	tmp.member_count = i + 1;
	tmp.generation = cur->generation + 1;
	memcpy(tmp.member_uuid, new_member->uuid, 16);
	tmp.member_index = i;

	int r = dms_label_validate(&tmp);
	if (r < 0)
		return r;
	*next = tmp;
	return 0;
}

void dms_label_for_member(const struct dms_label *l, uint32_t i, struct dms_label *out)
{
	if (!l || !out)
		return;
	if (out != l)
		*out = *l;
	if (i >= out->member_count || i >= DMS_MAX_MEMBERS)
		return; /* left as copied; dms_label_validate() rejects a mismatch */
	memcpy(out->member_uuid, out->members[i].uuid, 16);
	out->member_index = i;
}

int dms_plan_init(const struct dms_init_spec *spec, struct dms_label *l, struct dms_zero_range *zero,
		  size_t *nzero)
{
	if (!spec || !l || !zero || !nzero || !spec->name || !spec->fstype)
		return -EINVAL;
	memset(l, 0, sizeof(*l));
	*nzero = 0;
	l->version = DMS_LABEL_VERSION;
	l->generation = 1;
	l->target = spec->target == DMS_TARGET_THIN ? DMS_TARGET_THIN : DMS_TARGET_LINEAR;
	l->created_unix = spec->now_unix;
	snprintf(l->pool_name, sizeof(l->pool_name), "%s", spec->name);
	snprintf(l->fs_type, sizeof(l->fs_type), "%s", spec->fstype);
	memcpy(l->pool_uuid, spec->pool_uuid, 16);
	l->member_count = 1;
	struct dms_member *m = &l->members[0];
	memcpy(m->uuid, spec->member_uuid, 16);
	snprintf(m->volume_id, sizeof(m->volume_id), "%s", spec->volume_id ? spec->volume_id : "");
	bytes_t meta_reserve = 0;
	const bytes_t max_data = spec->max_data_bytes ? spec->max_data_bytes : DMS_THIN_DEFAULT_VIRTUAL;
	int r;
	if (l->target == DMS_TARGET_THIN && (r = dms_thin_meta_reserve(spec->device_bytes, max_data,
								       &meta_reserve)) < 0)
		return -ERANGE;
	if ((r = dms_member_layout(spec->device_bytes, meta_reserve, m)) < 0)
		return r;
	memcpy(l->member_uuid, m->uuid, 16);
	l->member_index = 0;
	if (l->target == DMS_TARGET_THIN) {
		bytes_t virt = spec->virtual_bytes ? spec->virtual_bytes : max_data;
		l->thin_meta_offset_bytes = DMS_DATA_OFFSET_BYTES;
		l->thin_meta_bytes = meta_reserve;
		l->thin_meta_active_bytes = dms_thin_meta_active_for(m->data_bytes, meta_reserve, 0);
		l->thin_virtual_bytes = align_down(virt, MIB);
		zero[(*nzero)++] = (struct dms_zero_range){ l->thin_meta_offset_bytes, MIB };
	}
	zero[(*nzero)++] = (struct dms_zero_range){ m->data_offset_bytes, MIB };
	return dms_label_validate(l);
}
