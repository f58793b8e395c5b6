/* Label version 2 (member kinds, the instance-store stripe, recreate lineage)
 * and the stripe table: round trips, the documented offsets, v1 labels still
 * read, the consistency rules, copy selection across a recreate. */
#include "tests/unit/unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "dmscale/crc32c.h"
#include "dmscale/label.h"
#include "dmscale/plan.h"
#include "dmscale/stripe.h"

/* Offsets of docs/FORMAT.md §2 (re-stated: a layout change breaks this test). */
enum {
	O_VERSION = 16, O_LABEL_LEN = 20, O_CRC = 24, O_STRIPE_COUNT = 192, O_STRIPE_CHUNK = 200,
	O_LINEAGE = 208, O_EPOCH = 224, HDR = 512, ENT = 128, E_VOLID = 16, E_KIND = 72,
};
#define COPY DMS_LABEL_COPY_BYTES

static uint8_t buf[COPY], bufb[COPY];

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}
static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static void reseal(uint8_t *b)
{
	uint32_t len = get32(b + O_LABEL_LEN);
	put32(b + O_CRC, 0);
	put32(b + O_CRC, dms_crc32c(0, b, len));
}

static void uuid_of(uint8_t u[16], uint8_t seed)
{
	for (int i = 0; i < 16; i++)
		u[i] = (uint8_t)(seed + i);
}

/* Two instance-store disks striped (64 GiB - 1 MiB each) + one EBS volume. */
static void make_tiered(struct dms_label *l, uint32_t index)
{
	memset(l, 0, sizeof(*l));
	l->version = DMS_LABEL_VERSION_2;
	l->generation = 1;
	uuid_of(l->pool_uuid, 0x10);
	snprintf(l->pool_name, sizeof(l->pool_name), "scratch");
	snprintf(l->fs_type, sizeof(l->fs_type), "ext4");
	l->target = DMS_TARGET_LINEAR;
	l->created_unix = 1700000000;
	l->member_count = 3;
	for (uint32_t i = 0; i < 3; i++) {
		struct dms_member *m = &l->members[i];
		uuid_of(m->uuid, (uint8_t)(0x40 + 0x10 * i));
		m->size_bytes = 64 * GIB;
		m->data_offset_bytes = MIB;
		m->data_bytes = 64 * GIB - MIB;
		m->kind = i < 2 ? DMS_KIND_INSTANCE_STORE : DMS_KIND_EBS;
	}
	snprintf(l->members[2].volume_id, sizeof(l->members[2].volume_id), "vol-0123456789abcdef0");
	l->members[2].size_bytes = 8 * GIB;
	l->members[2].data_bytes = 8 * GIB - MIB;
	l->stripe_count = 2;
	l->stripe_chunk_bytes = DMS_STRIPE_CHUNK_BYTES;
	l->member_index = index;
	memcpy(l->member_uuid, l->members[index].uuid, 16);
}

static void test_v2_roundtrip_and_offsets(void **state)
{
	(void)state;
	struct dms_label l, out;
	make_tiered(&l, 1);
	uuid_of(l.lineage_uuid, 0x90);
	l.recreate_epoch = 3;
	assert_int_equal(dms_label_min_version(&l), 2);
	assert_int_equal(dms_label_encode(&l, 0, buf, sizeof(buf)), 0);
	assert_int_equal(get32(buf + O_VERSION), 2);
	assert_int_equal(get32(buf + O_STRIPE_COUNT), 2);
	assert_int_equal(get64(buf + O_STRIPE_CHUNK), 256 * KIB);
	assert_int_equal(buf[O_LINEAGE], 0x90);
	assert_int_equal(get32(buf + O_EPOCH), 3);
	assert_int_equal(get32(buf + HDR + E_KIND), DMS_KIND_INSTANCE_STORE);
	assert_int_equal(get32(buf + HDR + ENT + E_KIND), DMS_KIND_INSTANCE_STORE);
	assert_int_equal(get32(buf + HDR + 2 * ENT + E_KIND), DMS_KIND_EBS);
	assert_int_equal(dms_label_decode(buf, sizeof(buf), 0, &out), 0);
	assert_int_equal(out.version, 2);
	assert_int_equal(out.stripe_count, 2);
	assert_int_equal(out.stripe_chunk_bytes, 256 * KIB);
	assert_memory_equal(out.lineage_uuid, l.lineage_uuid, 16);
	assert_int_equal(out.recreate_epoch, 3);
	assert_int_equal(out.members[0].kind, DMS_KIND_INSTANCE_STORE);
	assert_int_equal(out.members[2].kind, DMS_KIND_EBS);
	/* re-encoding gives the same bytes */
	assert_int_equal(dms_label_encode(&out, 0, bufb, sizeof(bufb)), 0);
	assert_memory_equal(buf, bufb, COPY);
}

/* A v1 label is still read; whatever a v1 writer left in the bytes that v2
 * uses is reserved for it and ignored. */
static void test_v1_still_read(void **state)
{
	(void)state;
	struct dms_label l, out;
	make_tiered(&l, 2);
	l.version = DMS_LABEL_VERSION;
	l.stripe_count = 0;
	l.stripe_chunk_bytes = 0;
	for (int i = 0; i < 3; i++)
		l.members[i].kind = DMS_KIND_EBS;
	assert_int_equal(dms_label_min_version(&l), 1);
	assert_int_equal(dms_label_encode(&l, 0, buf, sizeof(buf)), 0);
	assert_int_equal(get32(buf + O_VERSION), 1);
	assert_int_equal(get32(buf + O_STRIPE_COUNT), 0);
	assert_int_equal(get32(buf + HDR + E_KIND), 0);
	/* junk in the (v1-reserved) v2 offsets, resealed: still a plain v1 label */
	put32(buf + O_STRIPE_COUNT, 2);
	put32(buf + O_EPOCH, 9);
	put32(buf + HDR + E_KIND, 1);
	reseal(buf);
	assert_int_equal(dms_label_decode(buf, sizeof(buf), 0, &out), 0);
	assert_int_equal(out.version, 1);
	assert_int_equal(out.stripe_count, 0);
	assert_int_equal(out.recreate_epoch, 0);
	assert_int_equal(out.members[0].kind, DMS_KIND_EBS);
	/* v1 cannot carry v2 fields */
	l.members[0].kind = DMS_KIND_INSTANCE_STORE;
	assert_int_equal(dms_label_validate(&l), -EINVAL);
	assert_int_equal(dms_label_encode(&l, 0, buf, sizeof(buf)), -EINVAL);
}

static void test_v2_rules(void **state)
{
	(void)state;
	struct dms_label l;
	make_tiered(&l, 0);
	assert_int_equal(dms_label_validate(&l), 0);
	/* unequal stripe members */
	l.members[1].data_bytes -= 256 * KIB;
	assert_int_equal(dms_label_validate(&l), -EINVAL);
	make_tiered(&l, 0);
	l.stripe_chunk_bytes = 2 * MIB;             /* 64 GiB - 1 MiB: not whole chunks */
	assert_int_equal(dms_label_validate(&l), -EINVAL);
	make_tiered(&l, 0);
	l.stripe_count = 3;                         /* the EBS member cannot be striped */
	assert_int_equal(dms_label_validate(&l), -EINVAL);
	make_tiered(&l, 0);
	l.stripe_count = 1;
	assert_int_equal(dms_label_validate(&l), -EINVAL);
	make_tiered(&l, 0);
	l.stripe_chunk_bytes = 192 * KIB;           /* not a power of two */
	assert_int_equal(dms_label_validate(&l), -EINVAL);
	make_tiered(&l, 0);
	l.stripe_count = 0;                         /* chunk without a stripe */
	assert_int_equal(dms_label_validate(&l), -EINVAL);
	l.stripe_chunk_bytes = 0;
	assert_int_equal(dms_label_validate(&l), 0);
	make_tiered(&l, 0);
	l.members[2].kind = 7;
	assert_int_equal(dms_label_validate(&l), -EINVAL);
	make_tiered(&l, 0);
	snprintf(l.members[0].volume_id, sizeof(l.members[0].volume_id), "vol-0123456789abcdef1");
	assert_int_equal(dms_label_validate(&l), -EINVAL);   /* instance storage is no EBS volume */
	make_tiered(&l, 0);
	l.target = DMS_TARGET_THIN;
	assert_int_equal(dms_label_validate(&l), -EINVAL);
}

/* A recreate interrupted between copy A and copy B of a device: the copies
 * carry two pool uuids of one lineage; the higher epoch wins. */
static void test_pick_across_recreate(void **state)
{
	(void)state;
	struct dms_label o, n, out;
	unsigned ok;
	make_tiered(&o, 2);
	n = o;
	uuid_of(n.pool_uuid, 0x77);
	memcpy(n.lineage_uuid, o.pool_uuid, 16);
	n.recreate_epoch = 1;
	assert_int_equal(dms_label_encode(&n, 0, buf, sizeof(buf)), 0);
	assert_int_equal(dms_label_encode(&o, 1, bufb, sizeof(bufb)), 0);
	assert_int_equal(dms_label_pick(buf, COPY, bufb, COPY, &out, &ok), 0);
	assert_memory_equal(out.pool_uuid, n.pool_uuid, 16);
	assert_true(ok & DMS_COPY_B_STALE);
	/* the other way round */
	assert_int_equal(dms_label_encode(&o, 0, buf, sizeof(buf)), 0);
	assert_int_equal(dms_label_encode(&n, 1, bufb, sizeof(bufb)), 0);
	assert_int_equal(dms_label_pick(buf, COPY, bufb, COPY, &out, &ok), 0);
	assert_memory_equal(out.pool_uuid, n.pool_uuid, 16);
	assert_true(ok & DMS_COPY_A_STALE);
	/* unrelated pools on one device: still inconsistent */
	memset(n.lineage_uuid, 0, 16);
	assert_int_equal(dms_label_encode(&n, 1, bufb, sizeof(bufb)), 0);
	assert_int_equal(dms_label_pick(buf, COPY, bufb, COPY, &out, &ok), -EUCLEAN);
	/* same lineage, same epoch, two uuids: inconsistent */
	memcpy(n.lineage_uuid, o.pool_uuid, 16);
	n.recreate_epoch = 0;
	assert_int_equal(dms_label_encode(&n, 1, bufb, sizeof(bufb)), 0);
	assert_int_equal(dms_label_pick(buf, COPY, bufb, COPY, &out, &ok), -EUCLEAN);
}

/* ---------------- stripe table ---------------- */

static void test_stripe_table(void **state)
{
	(void)state;
	struct dms_label l;
	struct dms_table t;
	make_tiered(&l, 0);
	assert_int_equal(dms_plan_linear(&l, &t), 0);
	assert_int_equal(t.count, 2);
	const uint64_t each = (64 * GIB - MIB) / 512;
	assert_int_equal(t.seg[0].start_sectors, 0);
	assert_int_equal(t.seg[0].length_sectors, 2 * each);
	assert_int_equal(t.seg[0].stripes, 2);
	assert_int_equal(t.seg[0].chunk_sectors, 512);
	assert_int_equal(t.seg[1].start_sectors, 2 * each);
	assert_int_equal(t.seg[1].member_index, 2);
	assert_int_equal(t.seg[1].stripes, 0);
	assert_int_equal(t.seg[1].offset_sectors, 2048);
	assert_int_equal(t.total_sectors, 2 * each + (8 * GIB - MIB) / 512);

	dev_t dev[3] = { makedev(259, 3), makedev(259, 4), makedev(259, 7) };
	char p[256];
	assert_int_equal(dms_stripe_params(&l, &t.seg[0], dev, p, sizeof(p)), 0);
	assert_string_equal(p, "2 512 259:3 2048 259:4 2048");
	assert_int_equal(dms_stripe_params(&l, &t.seg[0], dev, p, 12), -ENOSPC);
	assert_int_equal(dms_stripe_params(&l, &t.seg[1], dev, p, sizeof(p)), -EINVAL);

	/* a malformed stripe is refused by the table too */
	l.members[1].data_bytes = 32 * GIB;
	assert_int_equal(dms_plan_linear(&l, &t), -EINVAL);

	/* one instance-store disk: no stripe, plain linear */
	make_tiered(&l, 0);
	l.stripe_count = 0;
	l.stripe_chunk_bytes = 0;
	assert_int_equal(dms_plan_linear(&l, &t), 0);
	assert_int_equal(t.count, 3);
	assert_int_equal(t.seg[0].stripes, 0);
}

static void test_stripe_layout(void **state)
{
	(void)state;
	struct dms_label l;
	make_tiered(&l, 0);
	l.stripe_count = 0;
	l.stripe_chunk_bytes = 0;
	l.members[1].data_bytes = 50 * GIB + 300 * KIB;   /* the shorter one decides */
	assert_int_equal(dms_stripe_layout(&l, 2, DMS_STRIPE_CHUNK_BYTES), 0);
	assert_int_equal(l.stripe_count, 2);
	assert_int_equal(l.members[0].data_bytes, 50 * GIB);
	assert_int_equal(l.members[1].data_bytes, 50 * GIB);
	assert_int_equal(l.members[2].data_bytes, 8 * GIB - MIB);   /* EBS untouched */
	assert_int_equal(dms_label_validate(&l), 0);
	/* one disk: linear */
	make_tiered(&l, 0);
	assert_int_equal(dms_stripe_layout(&l, 1, DMS_STRIPE_CHUNK_BYTES), 0);
	assert_int_equal(l.stripe_count, 0);
	assert_int_equal(l.stripe_chunk_bytes, 0);
	/* bad arguments */
	assert_int_equal(dms_stripe_layout(&l, 0, DMS_STRIPE_CHUNK_BYTES), -EINVAL);
	assert_int_equal(dms_stripe_layout(&l, 4, DMS_STRIPE_CHUNK_BYTES), -EINVAL);
	assert_int_equal(dms_stripe_layout(&l, 2, 3000), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v2_roundtrip_and_offsets),
		cmocka_unit_test(test_v1_still_read),
		cmocka_unit_test(test_v2_rules),
		cmocka_unit_test(test_pick_across_recreate),
		cmocka_unit_test(test_stripe_table),
		cmocka_unit_test(test_stripe_layout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
