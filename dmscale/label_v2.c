/* dmscale member label: the version 2 fields' codec (member kinds, the stripe
 * over the leading members, the recreate lineage and epoch); pure, no syscalls.
 *
 * A label uses version 2 only when one of these fields does
 * (dms_label_min_version); in a v1 copy their bytes are reserved: zero when
 * written, ignored when read. Layout: label_priv.h, docs/FORMAT.md §2.4. */
#include "dmscale/label.h"

#include <string.h>

#include "dmscale/label_priv.h"

uint32_t dms_label_min_version(const struct dms_label *l)
{
	if (l->stripe_count || l->stripe_chunk_bytes || l->recreate_epoch ||
	    (!uuid_is_zero(l->lineage_uuid) && memcmp(l->lineage_uuid, l->pool_uuid, 16)))
		return DMS_LABEL_VERSION_2;
	for (uint32_t i = 0; i < l->member_count && i < DMS_MAX_MEMBERS; i++)
		if (l->members[i].kind != DMS_KIND_EBS)
			return DMS_LABEL_VERSION_2;
	return DMS_LABEL_VERSION;
}

static int is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* v2 fields: member kinds, the stripe over the leading members (docs/FORMAT.md §2.4). */
int dl_v2_valid(const struct dms_label *l)
{
	if (l->version == DMS_LABEL_VERSION)
		return dms_label_min_version(l) == DMS_LABEL_VERSION;
	for (uint32_t i = 0; i < l->member_count; i++) {
		const struct dms_member *m = &l->members[i];
		if (m->kind != DMS_KIND_EBS && m->kind != DMS_KIND_INSTANCE_STORE)
			return 0;
		if (m->kind == DMS_KIND_INSTANCE_STORE && m->volume_id[0])
			return 0;               /* instance storage has no EBS volume id */
	}
	if (l->stripe_count == 0)
		return l->stripe_chunk_bytes == 0;
	if (l->stripe_count < 2 || l->stripe_count > DMS_MAX_STRIPE || l->stripe_count > l->member_count)
		return 0;
	if (!is_pow2(l->stripe_chunk_bytes) || l->stripe_chunk_bytes < DMS_STRIPE_CHUNK_MIN ||
	    l->stripe_chunk_bytes > DMS_STRIPE_CHUNK_MAX)
		return 0;
	/* dm-stripe: every stripe member contributes the same whole number of chunks */
	for (uint32_t i = 0; i < l->stripe_count; i++) {
		const struct dms_member *m = &l->members[i];
		if (m->kind != DMS_KIND_INSTANCE_STORE || m->data_bytes != l->members[0].data_bytes ||
		    m->data_bytes % l->stripe_chunk_bytes)
			return 0;
	}
	return 1;
}

void dl_v2_encode(const struct dms_label *l, uint8_t *buf)
{
	if (l->version < DMS_LABEL_VERSION_2)
		return;
	put_u32(buf + DL_STRIPE_COUNT_OFF, l->stripe_count);
	put_u64(buf + DL_STRIPE_CHUNK_OFF, l->stripe_chunk_bytes);
	memcpy(buf + DL_LINEAGE_OFF, l->lineage_uuid, 16);
	put_u32(buf + DL_EPOCH_OFF, l->recreate_epoch);
	for (uint32_t i = 0; i < l->member_count; i++)
		put_u32(buf + dl_entry_off(i) + DLE_KIND_OFF, l->members[i].kind);
}

void dl_v2_decode(const uint8_t *buf, struct dms_label *out)
{
	if (out->version < DMS_LABEL_VERSION_2)
		return;                 /* v1: reserved bytes, ignored */
	out->stripe_count = get_u32(buf + DL_STRIPE_COUNT_OFF);
	out->stripe_chunk_bytes = get_u64(buf + DL_STRIPE_CHUNK_OFF);
	memcpy(out->lineage_uuid, buf + DL_LINEAGE_OFF, 16);
	out->recreate_epoch = get_u32(buf + DL_EPOCH_OFF);
	for (uint32_t i = 0; i < out->member_count; i++)
		out->members[i].kind = get_u32(buf + dl_entry_off(i) + DLE_KIND_OFF);
}

int dl_v2_equal(const struct dms_label *a, const struct dms_label *b)
{
	if (a->stripe_count != b->stripe_count || a->stripe_chunk_bytes != b->stripe_chunk_bytes ||
	    memcmp(a->lineage_uuid, b->lineage_uuid, 16) || a->recreate_epoch != b->recreate_epoch)
		return 0;
	for (uint32_t i = 0; i < a->member_count && i < DMS_MAX_MEMBERS; i++)
		if (a->members[i].kind != b->members[i].kind)
			return 0;
	return 1;
}

void dms_label_lineage(const struct dms_label *l, uint8_t out[16])
{
	memcpy(out, uuid_is_zero(l->lineage_uuid) ? l->pool_uuid : l->lineage_uuid, 16);
}

int dl_recreate_winner(const struct dms_label *a, const struct dms_label *b)
{
	uint8_t la[16], lb[16];
	dms_label_lineage(a, la);
	dms_label_lineage(b, lb);
	if (memcmp(la, lb, 16) || a->recreate_epoch == b->recreate_epoch)
		return 0;
	return a->recreate_epoch > b->recreate_epoch ? 1 : 2;
}
