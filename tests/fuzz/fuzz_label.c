/* Fuzz the member label codec: decode of one copy, the choice between copy A
 * and copy B, and the round trip decode -> encode -> decode.
 *
 * Input: one flags byte, then the copy bytes.
 *   flags bit 0: recompute the CRC-32C of each copy before decoding, as a writer
 *                would, so the fuzzer reaches the checks behind the checksum;
 *   flags bit 1: the rest is copy A followed by copy B (split at its middle)
 *                and dms_label_pick chooses; otherwise one copy, decoded as A
 *                and as B. */
#include "tests/fuzz/fuzz.h"

#include <errno.h>

#include "dmscale/crc32c.h"
#include "dmscale/label.h"

/* docs/FORMAT.md §2: the fields the harness needs to fix a checksum. */
#define F_LABEL_LEN_OFF 20u
#define F_CRC_OFF       24u
#define F_HEADER_BYTES  512u

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Recompute the checksum of a copy (FORMAT.md: CRC-32C of label_len bytes,
 * with the crc field read as zero) when label_len fits the buffer. */
static void fix_crc(uint8_t *buf, size_t len)
{
	if (len < F_HEADER_BYTES)
		return;
	uint32_t label_len = le32(buf + F_LABEL_LEN_OFF);
	if (label_len < F_HEADER_BYTES || label_len > len)
		return;
	memset(buf + F_CRC_OFF, 0, 4);
	uint32_t crc = dms_crc32c(0, buf, label_len);
	for (unsigned i = 0; i < 4; i++)
		buf[F_CRC_OFF + i] = (uint8_t)(crc >> (8 * i));
}

static int known_error(int r)
{
	return r == -ENODATA || r == -EBADMSG || r == -EPROTONOSUPPORT || r == -EINVAL ||
	       r == -EMSGSIZE;
}

static int member_same(const struct dms_member *x, const struct dms_member *y)
{
	return !memcmp(x->uuid, y->uuid, 16) && !strcmp(x->volume_id, y->volume_id) &&
	       x->size_bytes == y->size_bytes && x->data_offset_bytes == y->data_offset_bytes &&
	       x->data_bytes == y->data_bytes && x->kind == y->kind;
}

static int label_same(const struct dms_label *a, const struct dms_label *b)
{
	if (a->version != b->version || a->generation != b->generation ||
	    memcmp(a->pool_uuid, b->pool_uuid, 16) || memcmp(a->member_uuid, b->member_uuid, 16) ||
	    a->member_index != b->member_index || strcmp(a->pool_name, b->pool_name) ||
	    strcmp(a->fs_type, b->fs_type) || a->target != b->target ||
	    a->created_unix != b->created_unix || a->thin_meta_offset_bytes != b->thin_meta_offset_bytes ||
	    a->thin_meta_bytes != b->thin_meta_bytes || a->thin_virtual_bytes != b->thin_virtual_bytes ||
	    a->thin_meta_active_bytes != b->thin_meta_active_bytes || a->member_count != b->member_count ||
	    a->stripe_count != b->stripe_count || a->stripe_chunk_bytes != b->stripe_chunk_bytes ||
	    memcmp(a->lineage_uuid, b->lineage_uuid, 16) || a->recreate_epoch != b->recreate_epoch)
		return 0;
	for (uint32_t i = 0; i < a->member_count; i++)
		if (!member_same(&a->members[i], &b->members[i]))
			return 0;
	return 1;
}

/* What the rest of dmscale relies on once a label decoded. */
static void check_decoded(const struct dms_label *l)
{
	FUZZ_ASSERT(dms_label_validate(l) == 0);
	FUZZ_ASSERT(l->version == DMS_LABEL_VERSION || l->version == DMS_LABEL_VERSION_2);
	FUZZ_ASSERT(l->version == DMS_LABEL_VERSION_2 || dms_label_min_version(l) == DMS_LABEL_VERSION);
	FUZZ_ASSERT(l->stripe_count == 0 || (l->stripe_count >= 2 && l->stripe_count <= l->member_count &&
					       l->stripe_count <= DMS_MAX_STRIPE));
	for (uint32_t i = 0; i < l->stripe_count; i++)
		FUZZ_ASSERT(l->members[i].kind == DMS_KIND_INSTANCE_STORE &&
			    l->members[i].data_bytes == l->members[0].data_bytes &&
			    l->members[i].data_bytes % l->stripe_chunk_bytes == 0);
	FUZZ_ASSERT(l->generation > 0);
	FUZZ_ASSERT(l->member_count >= 1 && l->member_count <= DMS_MAX_MEMBERS);
	FUZZ_ASSERT(l->member_index < l->member_count);
	FUZZ_ASSERT(!memcmp(l->members[l->member_index].uuid, l->member_uuid, 16));
	FUZZ_ASSERT(fuzz_terminated(l->pool_name, sizeof(l->pool_name)) && l->pool_name[0]);
	FUZZ_ASSERT(fuzz_terminated(l->fs_type, sizeof(l->fs_type)));
	FUZZ_ASSERT(l->target == DMS_TARGET_LINEAR || l->target == DMS_TARGET_THIN);
	bytes_t sum = 0;
	for (uint32_t i = 0; i < l->member_count; i++) {
		const struct dms_member *m = &l->members[i];
		FUZZ_ASSERT(fuzz_terminated(m->volume_id, sizeof(m->volume_id)));
		FUZZ_ASSERT(m->data_bytes > 0 && m->data_bytes % DMS_DATA_ALIGN_BYTES == 0);
		FUZZ_ASSERT(m->data_offset_bytes % DMS_DATA_ALIGN_BYTES == 0);
		FUZZ_ASSERT(m->data_offset_bytes >= DMS_DATA_OFFSET_BYTES);
		FUZZ_ASSERT(m->data_offset_bytes <= m->size_bytes &&
			    m->data_bytes <= m->size_bytes - m->data_offset_bytes);
		sum += m->data_bytes; /* may wrap: compared with the library's own sum */
	}
	FUZZ_ASSERT(dms_label_data_bytes(l) == sum);
}

/* decode -> encode -> decode is stable, and encoding is canonical. */
static void round_trip(const struct dms_label *l, unsigned copy)
{
	static uint8_t enc[DMS_LABEL_COPY_BYTES], enc2[DMS_LABEL_COPY_BYTES];
	static struct dms_label again, again2;
	FUZZ_ASSERT(dms_label_encode(l, copy, enc, sizeof(enc)) == 0);
	FUZZ_ASSERT(dms_label_decode(enc, sizeof(enc), copy, &again) == 0);
	FUZZ_ASSERT(label_same(l, &again));
	/* the other copy number is refused */
	FUZZ_ASSERT(dms_label_decode(enc, sizeof(enc), copy ^ 1u, &again2) == -EINVAL);
	FUZZ_ASSERT(dms_label_encode(&again, copy, enc2, sizeof(enc2)) == 0);
	FUZZ_ASSERT(!memcmp(enc, enc2, sizeof(enc)));
}

static void one_copy(const uint8_t *data, size_t len, int fix)
{
	static struct dms_label l;
	uint8_t *buf = fuzz_copy(data, len);
	if (fix)
		fix_crc(buf, len);
	for (unsigned copy = 0; copy < 2; copy++) {
		int r = dms_label_decode(buf, len, copy, &l);
		FUZZ_ASSERT(r == 0 || known_error(r));
		if (r == 0) {
			check_decoded(&l);
			round_trip(&l, copy);
		}
	}
	free(buf);
}

static void two_copies(const uint8_t *data, size_t len, int fix)
{
	static struct dms_label out, la, lb;
	size_t alen = len / 2, blen = len - alen;
	uint8_t *a = fuzz_copy(data, alen), *b = fuzz_copy(data + alen, blen);
	if (fix) {
		fix_crc(a, alen);
		fix_crc(b, blen);
	}
	int ra = dms_label_decode(a, alen, 0, &la);
	int rb = dms_label_decode(b, blen, 1, &lb);
	unsigned ok = 99;
	int r = dms_label_pick(a, alen, b, blen, &out, &ok);
	FUZZ_ASSERT((ok & 3u) == ((ra == 0 ? 1u : 0u) | (rb == 0 ? 2u : 0u)));
	FUZZ_ASSERT((ok & ~15u) == 0 && (ok & 12u) != 12u && (!(ok & 12u) || (ok & 3u) == 3u));
	if (r == 0) {
		check_decoded(&out);
		FUZZ_ASSERT(ok != 0);
		/* the pick is one of the valid copies, the newest */
		if (ok == 1)
			FUZZ_ASSERT(label_same(&out, &la));
		else if (ok == 2)
			FUZZ_ASSERT(label_same(&out, &lb));
		else if (!memcmp(la.pool_uuid, lb.pool_uuid, 16))
			FUZZ_ASSERT(out.generation == (la.generation > lb.generation ? la.generation : lb.generation) &&
				    (label_same(&out, &la) || label_same(&out, &lb)));
		else    /* two incarnations of one pool (a recreate): the higher epoch */
			FUZZ_ASSERT(out.recreate_epoch ==
					    (la.recreate_epoch > lb.recreate_epoch ? la.recreate_epoch : lb.recreate_epoch) &&
				    la.recreate_epoch != lb.recreate_epoch &&
				    (label_same(&out, &la) || label_same(&out, &lb)));
	} else if (ok == 0) {
		FUZZ_ASSERT(r == ra); /* neither valid: copy A's error */
	} else {
		FUZZ_ASSERT((ok & 3u) == 3 && r == -EUCLEAN);
	}
	/* a missing copy (read error) leaves the other to decide */
	r = dms_label_pick(a, alen, NULL, 0, &out, &ok);
	FUZZ_ASSERT(r == ra && ok == (ra == 0 ? 1u : 0u));
	r = dms_label_pick(NULL, 0, b, blen, &out, &ok);
	FUZZ_ASSERT(ok == (rb == 0 ? 2u : 0u) && (rb == 0 ? r == 0 : r == -EIO));
	free(a);
	free(b);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t flags = data[0];
	if (flags & 2)
		two_copies(data + 1, size - 1, flags & 1);
	else
		one_copy(data + 1, size - 1, flags & 1);
	return 0;
}
