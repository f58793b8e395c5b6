/* Member label codec: round trips, corruption, truncation, hostile input,
 * copy selection and the golden on-disk bytes of docs/FORMAT.md. */
#include "tests/unit/unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dmscale/crc32c.h"
#include "dmscale/label.h"

/* Offsets from docs/FORMAT.md §2 (deliberately re-stated here, not shared
 * with label.c, so that a layout change breaks this test). */
enum {
	O_MAGIC = 0, O_VERSION = 16, O_LABEL_LEN = 20, O_CRC = 24, O_COPY = 28,
	O_GENERATION = 32, O_POOL_UUID = 40, O_MEMBER_UUID = 56, O_MEMBER_INDEX = 72,
	O_MEMBER_COUNT = 76, O_POOL_NAME = 80, O_FSTYPE = 128, O_TARGET = 144,
	O_RESERVED0 = 148, O_CREATED = 152, O_THIN_META_OFF = 160, O_THIN_META_LEN = 168,
	O_THIN_VIRT = 176, HDR = 512, ENT = 128,
	E_UUID = 0, E_VOLID = 16, E_SIZE = 48, E_DATA_OFF = 56, E_DATA_LEN = 64,
};
#define COPY DMS_LABEL_COPY_BYTES

static uint8_t buf[COPY], buf2[COPY];

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* Recompute the checksum as FORMAT.md says: CRC-32C of bytes
 * [0, label_len) with the crc field taken as zero. Clamped to the buffer. */
static void reseal(uint8_t *b)
{
	uint32_t len = get32(b + O_LABEL_LEN);
	if (len > COPY)
		len = COPY;
	put32(b + O_CRC, 0);
	put32(b + O_CRC, dms_crc32c(0, b, len));
}

static void make_uuid(uint8_t u[16], uint32_t seed)
{
	for (int i = 0; i < 16; i++)
		u[i] = (uint8_t)(seed * 31u + (uint32_t)i * 7u + 1u);
	u[0] = (uint8_t)seed;
	u[1] = (uint8_t)(seed >> 8);
	u[2] = 0xA5;
}

static void make_label(struct dms_label *l, uint32_t count, uint32_t index)
{
	memset(l, 0, sizeof(*l));
	l->version = DMS_LABEL_VERSION;
	l->generation = 42;
	make_uuid(l->pool_uuid, 0xBEEF);
	snprintf(l->pool_name, sizeof(l->pool_name), "scratch-pool_1.x");
	snprintf(l->fs_type, sizeof(l->fs_type), "ext4");
	l->target = DMS_TARGET_LINEAR;
	l->created_unix = 1712345678;
	l->member_count = count;
	for (uint32_t i = 0; i < count; i++) {
		struct dms_member *m = &l->members[i];
		make_uuid(m->uuid, i + 1);
		snprintf(m->volume_id, sizeof(m->volume_id), "vol-%017x", 0xabc000u + i);
		m->size_bytes = (i + 1) * GIB + 12345;
		m->data_offset_bytes = MIB;
		m->data_bytes = (i + 1) * GIB - MIB;
	}
	l->member_index = index;
	memcpy(l->member_uuid, l->members[index].uuid, 16);
}

static void make_thin(struct dms_label *l, uint32_t count)
{
	make_label(l, count, 0);
	l->target = DMS_TARGET_THIN;
	snprintf(l->fs_type, sizeof(l->fs_type), "btrfs");
	l->thin_meta_offset_bytes = MIB;
	l->thin_meta_bytes = 64 * MIB;
	l->thin_virtual_bytes = 10 * TIB;
	l->thin_meta_active_bytes = 16 * MIB;
	l->members[0].data_offset_bytes = 65 * MIB;
	l->members[0].data_bytes = GIB - 65 * MIB;
}

static void assert_label_equal(const struct dms_label *a, const struct dms_label *b)
{
	assert_int_equal(a->version, b->version);
	assert_int_equal(a->generation, b->generation);
	assert_memory_equal(a->pool_uuid, b->pool_uuid, 16);
	assert_memory_equal(a->member_uuid, b->member_uuid, 16);
	assert_int_equal(a->member_index, b->member_index);
	assert_string_equal(a->pool_name, b->pool_name);
	assert_string_equal(a->fs_type, b->fs_type);
	assert_int_equal(a->target, b->target);
	assert_int_equal(a->created_unix, b->created_unix);
	assert_int_equal(a->thin_meta_offset_bytes, b->thin_meta_offset_bytes);
	assert_int_equal(a->thin_meta_bytes, b->thin_meta_bytes);
	assert_int_equal(a->thin_virtual_bytes, b->thin_virtual_bytes);
	assert_int_equal(a->thin_meta_active_bytes, b->thin_meta_active_bytes);
	assert_int_equal(a->member_count, b->member_count);
	for (uint32_t i = 0; i < a->member_count; i++) {
		assert_memory_equal(a->members[i].uuid, b->members[i].uuid, 16);
		assert_string_equal(a->members[i].volume_id, b->members[i].volume_id);
		assert_int_equal(a->members[i].size_bytes, b->members[i].size_bytes);
		assert_int_equal(a->members[i].data_offset_bytes, b->members[i].data_offset_bytes);
		assert_int_equal(a->members[i].data_bytes, b->members[i].data_bytes);
	}
}

static uint32_t enc_len(uint32_t count) { return HDR + ENT * count; }

/* Decode from an exactly-sized heap copy so ASan/valgrind catch any over-read. */
static int decode_exact(const uint8_t *src, size_t len, unsigned copy, struct dms_label *out)
{
	uint8_t *p = malloc(len ? len : 1);
	assert_non_null(p);
	memcpy(p, src, len);
	int r = dms_label_decode(p, len, copy, out);
	free(p);
	return r;
}

/* ---------------- round trips ---------------- */

static void roundtrip(const struct dms_label *l)
{
	struct dms_label out;
	for (unsigned copy = 0; copy < 2; copy++) {
		memset(buf, 0xCC, sizeof(buf));
		assert_int_equal(dms_label_encode(l, copy, buf, sizeof(buf)), 0);
		assert_int_equal(get32(buf + O_LABEL_LEN), enc_len(l->member_count));
		/* everything after the encoded label is zero */
		for (size_t i = enc_len(l->member_count); i < COPY; i++)
			if (buf[i])
				fail_msg("byte %zu after the label is not zero", i);
		memset(&out, 0x5A, sizeof(out));
		assert_int_equal(dms_label_decode(buf, sizeof(buf), copy, &out), 0);
		assert_label_equal(l, &out);
		/* the exact encoded length is enough */
		assert_int_equal(decode_exact(buf, enc_len(l->member_count), copy, &out), 0);
		assert_label_equal(l, &out);
		/* re-encoding the decoded label gives the same bytes */
		assert_int_equal(dms_label_encode(&out, copy, buf2, sizeof(buf2)), 0);
		assert_memory_equal(buf, buf2, COPY);
	}
}

static void test_roundtrip_1(void **state)
{
	(void)state;
	struct dms_label l;
	make_label(&l, 1, 0);
	roundtrip(&l);
	l.members[0].volume_id[0] = '\0'; /* not an EBS volume */
	l.generation = UINT64_MAX;
	l.created_unix = 0;
	roundtrip(&l);
}

static void test_roundtrip_128_all_fields(void **state)
{
	(void)state;
	static struct dms_label l;
	make_label(&l, DMS_MAX_MEMBERS, 77);
	snprintf(l.pool_name, sizeof(l.pool_name), "%s", "A23456789012345678901234567890123456789012345_.");
	assert_int_equal(strlen(l.pool_name), DMS_POOL_NAME_MAX - 1);
	l.generation = 0x0123456789ABCDEFull;
	l.created_unix = 0xFEDCBA9876543210ull;
	l.members[127].size_bytes = 64 * TIB;
	l.members[127].data_offset_bytes = 3 * MIB;
	l.members[127].data_bytes = 64 * TIB - 3 * MIB;
	l.members[5].volume_id[0] = '\0';
	snprintf(l.members[6].volume_id, sizeof(l.members[6].volume_id), "vol-1234abcd");
	roundtrip(&l);
	assert_int_equal(enc_len(128), 16896);

	make_thin(&l, 128);
	snprintf(l.fs_type, sizeof(l.fs_type), "xfs");
	roundtrip(&l);
	make_thin(&l, 1);
	roundtrip(&l);
}

static void test_copies(void **state)
{
	(void)state;
	struct dms_label l, out;
	make_label(&l, 3, 2);
	assert_int_equal(dms_label_encode(&l, 0, buf, sizeof(buf)), 0);
	assert_int_equal(dms_label_encode(&l, 1, buf2, sizeof(buf2)), 0);
	assert_int_equal(get32(buf + O_COPY), 0);
	assert_int_equal(get32(buf2 + O_COPY), 1);
	/* the copies differ exactly in the copy number and the crc */
	for (size_t i = 0; i < COPY; i++) {
		int in_copy = i >= O_COPY && i < O_COPY + 4;
		int in_crc = i >= O_CRC && i < O_CRC + 4;
		if (!in_copy && !in_crc && buf[i] != buf2[i])
			fail_msg("copies differ at byte %zu", i);
	}
	assert_int_not_equal(get32(buf + O_CRC), get32(buf2 + O_CRC));
	assert_int_equal(dms_label_decode(buf, sizeof(buf), 0, &out), 0);
	assert_int_equal(dms_label_decode(buf2, sizeof(buf2), 1, &out), 0);
	/* a copy read from the other copy's place is refused */
	assert_int_equal(dms_label_decode(buf, sizeof(buf), 1, &out), -EINVAL);
	assert_int_equal(dms_label_decode(buf2, sizeof(buf2), 0, &out), -EINVAL);
	/* bad copy numbers */
	assert_int_equal(dms_label_encode(&l, 2, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(dms_label_decode(buf2, sizeof(buf2), 2, &out), -EINVAL);
	put32(buf + O_COPY, 7);
	reseal(buf);
	assert_int_equal(dms_label_decode(buf, sizeof(buf), 0, &out), -EINVAL);
}

static void test_encode_errors(void **state)
{
	(void)state;
	struct dms_label l;
	make_label(&l, 2, 1);
	assert_int_equal(dms_label_encode(&l, 0, buf, COPY - 1), -ENOSPC);
	assert_int_equal(dms_label_encode(&l, 0, buf, enc_len(2)), -ENOSPC);
	assert_int_equal(dms_label_encode(NULL, 0, buf, COPY), -EINVAL);
	assert_int_equal(dms_label_encode(&l, 0, NULL, COPY), -EINVAL);
	l.member_count = 0;
	assert_int_equal(dms_label_encode(&l, 0, buf, COPY), -EINVAL);
	make_label(&l, 2, 1);
	l.pool_name[3] = '/';
	memset(buf, 0x77, sizeof(buf));
	assert_int_equal(dms_label_encode(&l, 0, buf, COPY), -EINVAL);
}

/* ---------------- corruption ---------------- */

static void flip_all(const struct dms_label *l)
{
	struct dms_label out;
	const uint32_t len = enc_len(l->member_count);
	static const uint8_t masks[] = { 0x01, 0x10, 0x80, 0xFF };
	assert_int_equal(dms_label_encode(l, 0, buf, sizeof(buf)), 0);
	for (uint32_t off = 0; off < len; off++) {
		for (size_t m = 0; m < sizeof(masks); m++) {
			buf[off] ^= masks[m];
			int r = dms_label_decode(buf, sizeof(buf), 0, &out);
			int want = off < O_VERSION ? -ENODATA
				 : off < O_VERSION + 4 ? -EPROTONOSUPPORT : -EBADMSG;
			if (r != want)
				fail_msg("flip 0x%02x at byte %u: got %d want %d", masks[m], off, r, want);
			buf[off] ^= masks[m];
		}
	}
	assert_int_equal(dms_label_decode(buf, sizeof(buf), 0, &out), 0);
	/* bytes after label_len are not covered and not interpreted */
	for (uint32_t off = len; off < COPY; off += 997) {
		buf[off] ^= 0xFF;
		assert_int_equal(dms_label_decode(buf, sizeof(buf), 0, &out), 0);
		buf[off] ^= 0xFF;
	}
}

static void test_every_byte_flip(void **state)
{
	(void)state;
	static struct dms_label l;
	make_label(&l, 1, 0);
	flip_all(&l);
	make_label(&l, 3, 1);
	flip_all(&l);
	make_thin(&l, 2);
	flip_all(&l);
}

static void test_truncated(void **state)
{
	(void)state;
	static struct dms_label l, out;
	const uint32_t counts[] = { 1, 2, 128 };
	for (size_t c = 0; c < 3; c++) {
		make_label(&l, counts[c], 0);
		assert_int_equal(dms_label_encode(&l, 1, buf, sizeof(buf)), 0);
		const uint32_t len = enc_len(counts[c]);
		uint32_t step = counts[c] > 8 ? 7 : 1;
		for (uint32_t n = 0; n < len; n += (n < HDR + ENT ? 1 : step))
			if (decode_exact(buf, n, 1, &out) != -EMSGSIZE)
				fail_msg("count %u, %u bytes: not -EMSGSIZE", counts[c], n);
		assert_int_equal(decode_exact(buf, len - 1, 1, &out), -EMSGSIZE);
		assert_int_equal(decode_exact(buf, len, 1, &out), 0);
		assert_label_equal(&l, &out);
	}
	/* a truncated blank buffer: too short to tell, or no magic */
	memset(buf, 0, 64);
	assert_int_equal(decode_exact(buf, 15, 0, &out), -EMSGSIZE);
	assert_int_equal(decode_exact(buf, 16, 0, &out), -ENODATA);
}

static void test_version_skew(void **state)
{
	(void)state;
	struct dms_label l, out;
	make_label(&l, 2, 0);
	const uint32_t versions[] = { 0, 3, 0x100, 0xFFFFFFFF };   /* 1 and 2 are read */
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		assert_int_equal(dms_label_encode(&l, 0, buf, sizeof(buf)), 0);
		put32(buf + O_VERSION, versions[i]);
		reseal(buf);
		assert_int_equal(dms_label_decode(buf, sizeof(buf), 0, &out), -EPROTONOSUPPORT);
		/* also with a checksum that is wrong for v1: the version decides first */
		buf[O_GENERATION] ^= 1;
		assert_int_equal(dms_label_decode(buf, sizeof(buf), 0, &out), -EPROTONOSUPPORT);
		/* a future version with a bigger header, truncated to 20 bytes */
		assert_int_equal(decode_exact(buf, 20, 0, &out), -EPROTONOSUPPORT);
	}
	/* a struct claiming another version does not encode */
	l.version = 3;
	assert_int_equal(dms_label_encode(&l, 0, buf, sizeof(buf)), -EINVAL);
}

static void test_blank(void **state)
{
	(void)state;
	struct dms_label out;
	memset(buf, 0, sizeof(buf));
	assert_int_equal(dms_label_decode(buf, sizeof(buf), 0, &out), -ENODATA);
	assert_int_equal(dms_label_decode(buf, sizeof(buf), 1, &out), -ENODATA);
	memset(buf, 0xFF, sizeof(buf));
	assert_int_equal(dms_label_decode(buf, sizeof(buf), 0, &out), -ENODATA);
	/* an ext4 / xfs superblock or random text is not a label */
	memcpy(buf, "XFSB", 4);
	assert_int_equal(dms_label_decode(buf, sizeof(buf), 0, &out), -ENODATA);
	memcpy(buf, "DMSCALE_LABEL\0\0\1", 16); /* magic off by one byte */
	assert_int_equal(dms_label_decode(buf, sizeof(buf), 0, &out), -ENODATA);
	memcpy(buf, "dmscale_label\0\0\0", 16);
	assert_int_equal(dms_label_decode(buf, sizeof(buf), 0, &out), -ENODATA);
}

/* ---------------- hostile labels with a valid checksum ---------------- */

struct hostile {
	const char *what;
	void (*mutate)(uint8_t *b);
	int want;
};

static void m_count0(uint8_t *b) { put32(b + O_MEMBER_COUNT, 0); }
static void m_count0_len(uint8_t *b) { put32(b + O_MEMBER_COUNT, 0); put32(b + O_LABEL_LEN, HDR); }
static void m_count129(uint8_t *b) { put32(b + O_MEMBER_COUNT, 129); put32(b + O_LABEL_LEN, HDR + 129 * ENT); }
static void m_count_huge(uint8_t *b) { put32(b + O_MEMBER_COUNT, 0xFFFFFFFFu); }
static void m_count_huge_len(uint8_t *b) { put32(b + O_MEMBER_COUNT, 0x02000000u); put32(b + O_LABEL_LEN, HDR); }
static void m_count_more(uint8_t *b) { put32(b + O_MEMBER_COUNT, 3); }
static void m_count_less(uint8_t *b) { put32(b + O_MEMBER_COUNT, 1); }
static void m_len_whole(uint8_t *b) { put32(b + O_LABEL_LEN, COPY); }
static void m_len_short(uint8_t *b) { put32(b + O_LABEL_LEN, HDR + ENT); }
static void m_len_odd(uint8_t *b) { put32(b + O_LABEL_LEN, HDR + 2 * ENT + 1); }
static void m_index2(uint8_t *b) { put32(b + O_MEMBER_INDEX, 2); }
static void m_index_huge(uint8_t *b) { put32(b + O_MEMBER_INDEX, 0xFFFFFFFFu); }
static void m_index_other(uint8_t *b) { put32(b + O_MEMBER_INDEX, 0); } /* uuid is member 1's */
static void m_member_uuid(uint8_t *b) { b[O_MEMBER_UUID + 5] ^= 1; }
static void m_gen0(uint8_t *b) { put64(b + O_GENERATION, 0); }
static void m_pool_uuid0(uint8_t *b) { memset(b + O_POOL_UUID, 0, 16); }
static void m_name_unterminated(uint8_t *b) { memset(b + O_POOL_NAME, 'a', DMS_POOL_NAME_MAX); }
static void m_name_slash(uint8_t *b) { memcpy(b + O_POOL_NAME, "../etc", 6); }
static void m_name_space(uint8_t *b) { b[O_POOL_NAME + 2] = ' '; }
static void m_name_empty(uint8_t *b) { memset(b + O_POOL_NAME, 0, DMS_POOL_NAME_MAX); }
static void m_name_dotdot(uint8_t *b) { memset(b + O_POOL_NAME, 0, DMS_POOL_NAME_MAX); memcpy(b + O_POOL_NAME, "..", 2); }
static void m_name_junk_after_nul(uint8_t *b) { b[O_POOL_NAME + DMS_POOL_NAME_MAX - 1] = 'x'; }
static void m_name_high(uint8_t *b) { b[O_POOL_NAME] = (uint8_t)0xC3; }
static void m_fs_unknown(uint8_t *b) { memcpy(b + O_FSTYPE, "ntfs", 5); }
static void m_fs_unterminated(uint8_t *b) { memset(b + O_FSTYPE, 'x', DMS_FSTYPE_MAX); }
static void m_fs_empty(uint8_t *b) { memset(b + O_FSTYPE, 0, DMS_FSTYPE_MAX); }
static void m_fs_prefix(uint8_t *b) { memcpy(b + O_FSTYPE, "ext\0", 4); }
static void m_target0(uint8_t *b) { put32(b + O_TARGET, 0); }
static void m_target3(uint8_t *b) { put32(b + O_TARGET, 3); }
static void m_thin_on_linear(uint8_t *b) { put64(b + O_THIN_VIRT, GIB); }
static void m_dup_uuid(uint8_t *b) { memcpy(b + HDR + E_UUID, b + HDR + ENT + E_UUID, 16); }
static void m_member_uuid0(uint8_t *b) { memset(b + HDR + E_UUID, 0, 16); }
static void m_off_unaligned(uint8_t *b) { put64(b + HDR + E_DATA_OFF, MIB + 512); }
static void m_off_zero(uint8_t *b) { put64(b + HDR + E_DATA_OFF, 0); }
static void m_off_in_labels(uint8_t *b) { put64(b + HDR + E_DATA_OFF, 64 * KIB); }
static void m_data_unaligned(uint8_t *b) { put64(b + HDR + E_DATA_LEN, get64(b + HDR + E_DATA_LEN) - 512); }
static void m_data_zero(uint8_t *b) { put64(b + HDR + E_DATA_LEN, 0); }
static void m_data_past_size(uint8_t *b) { put64(b + HDR + E_DATA_LEN, get64(b + HDR + E_DATA_LEN) + MIB); }
static void m_off_past_size(uint8_t *b) { put64(b + HDR + E_DATA_OFF, 2 * GIB); }
static void m_off_overflow(uint8_t *b)
{
	put64(b + HDR + E_SIZE, UINT64_MAX);
	put64(b + HDR + E_DATA_OFF, UINT64_MAX - MIB + 1);
	put64(b + HDR + E_DATA_LEN, 2 * MIB);
}
static void m_volid_upper(uint8_t *b) { b[HDR + E_VOLID + 6] = 'A'; }
static void m_volid_nonhex(uint8_t *b) { b[HDR + E_VOLID + 6] = 'g'; }
static void m_volid_prefix(uint8_t *b) { b[HDR + E_VOLID + 3] = '_'; }
static void m_volid_short(uint8_t *b) { b[HDR + E_VOLID + 20] = 0; }
static void m_volid_long(uint8_t *b) { b[HDR + E_VOLID + 21] = '0'; }
static void m_volid_unterminated(uint8_t *b) { memset(b + HDR + E_VOLID, 'a', DMS_VOLUME_ID_MAX); }
static void m_volid_junk_after_nul(uint8_t *b) { b[HDR + E_VOLID + 30] = '1'; }
static void m_volid_dup(uint8_t *b) { memcpy(b + HDR + ENT + E_VOLID, b + HDR + E_VOLID, DMS_VOLUME_ID_MAX); }
/* reserved bytes: covered by the checksum, ignored by v1 readers */
static void m_reserved(uint8_t *b) { b[O_RESERVED0] = 1; b[300] = 2; b[HDR + 100] = 3; }

static const struct hostile hostile[] = {
	{ "member_count 0", m_count0, -EINVAL },
	{ "member_count 0, label_len 512", m_count0_len, -EINVAL },
	{ "member_count 129", m_count129, -EINVAL },
	{ "member_count huge", m_count_huge, -EINVAL },
	{ "member_count huge, label_len 512", m_count_huge_len, -EINVAL },
	{ "member_count > table", m_count_more, -EINVAL },
	{ "member_count < table", m_count_less, -EINVAL },
	{ "label_len whole copy", m_len_whole, -EINVAL },
	{ "label_len short", m_len_short, -EINVAL },
	{ "label_len odd", m_len_odd, -EINVAL },
	{ "member_index == count", m_index2, -EINVAL },
	{ "member_index huge", m_index_huge, -EINVAL },
	{ "member_index names another member", m_index_other, -EINVAL },
	{ "member_uuid not in table", m_member_uuid, -EINVAL },
	{ "generation 0", m_gen0, -EINVAL },
	{ "pool uuid zero", m_pool_uuid0, -EINVAL },
	{ "name unterminated", m_name_unterminated, -EINVAL },
	{ "name with /", m_name_slash, -EINVAL },
	{ "name with space", m_name_space, -EINVAL },
	{ "name empty", m_name_empty, -EINVAL },
	{ "name ..", m_name_dotdot, -EINVAL },
	{ "name junk after NUL", m_name_junk_after_nul, -EINVAL },
	{ "name non-ascii", m_name_high, -EINVAL },
	{ "fs unknown", m_fs_unknown, -EINVAL },
	{ "fs unterminated", m_fs_unterminated, -EINVAL },
	{ "fs empty", m_fs_empty, -EINVAL },
	{ "fs prefix", m_fs_prefix, -EINVAL },
	{ "target 0", m_target0, -EINVAL },
	{ "target 3", m_target3, -EINVAL },
	{ "thin fields on linear", m_thin_on_linear, -EINVAL },
	{ "duplicate member uuid", m_dup_uuid, -EINVAL },
	{ "member uuid zero", m_member_uuid0, -EINVAL },
	{ "data offset unaligned", m_off_unaligned, -EINVAL },
	{ "data offset zero", m_off_zero, -EINVAL },
	{ "data offset inside the label area", m_off_in_labels, -EINVAL },
	{ "data bytes unaligned", m_data_unaligned, -EINVAL },
	{ "data bytes zero", m_data_zero, -EINVAL },
	{ "offset + data > size", m_data_past_size, -EINVAL },
	{ "offset > size", m_off_past_size, -EINVAL },
	{ "offset + data overflows", m_off_overflow, -EINVAL },
	{ "volume id uppercase", m_volid_upper, -EINVAL },
	{ "volume id non-hex", m_volid_nonhex, -EINVAL },
	{ "volume id prefix", m_volid_prefix, -EINVAL },
	{ "volume id short", m_volid_short, -EINVAL },
	{ "volume id long", m_volid_long, -EINVAL },
	{ "volume id unterminated", m_volid_unterminated, -EINVAL },
	{ "volume id junk after NUL", m_volid_junk_after_nul, -EINVAL },
	{ "volume id duplicate", m_volid_dup, -EINVAL },
	{ "reserved bytes set", m_reserved, 0 },
};

static void test_hostile(void **state)
{
	(void)state;
	struct dms_label l, out;
	make_label(&l, 2, 1);
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		assert_int_equal(dms_label_encode(&l, 0, buf, sizeof(buf)), 0);
		hostile[i].mutate(buf);
		reseal(buf);
		memset(&out, 0x5A, sizeof(out));
		int r = dms_label_decode(buf, sizeof(buf), 0, &out);
		if (r != hostile[i].want)
			fail_msg("%s: got %d want %d", hostile[i].what, r, hostile[i].want);
		if (r < 0) {
			/* nothing half-decoded leaks out */
			static const struct dms_label zero;
			assert_memory_equal(&out, &zero, sizeof(out));
		}
		/* and the same bytes in an exactly-sized buffer never over-read */
		uint32_t len = get32(buf + O_LABEL_LEN);
		if (len <= COPY)
			(void)decode_exact(buf, len, 0, &out);
	}
}

static void test_label_len_corrupt(void **state)
{
	(void)state;
	struct dms_label l, out;
	make_label(&l, 2, 0);
	const uint32_t lens[] = { 0, 1, HDR - 1, COPY + 1, 0x7FFFFFFF, 0xFFFFFFFF };
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		assert_int_equal(dms_label_encode(&l, 0, buf, sizeof(buf)), 0);
		put32(buf + O_LABEL_LEN, lens[i]);
		reseal(buf); /* whatever that means for such a length */
		assert_int_equal(dms_label_decode(buf, sizeof(buf), 0, &out), -EBADMSG);
	}
}

static void test_thin_validate(void **state)
{
	(void)state;
	struct dms_label l;
	make_thin(&l, 2);
	assert_int_equal(dms_label_validate(&l), 0);
	make_thin(&l, 2); l.thin_meta_bytes = 0;
	assert_int_equal(dms_label_validate(&l), -EINVAL);
	make_thin(&l, 2); l.thin_meta_offset_bytes = 0;
	assert_int_equal(dms_label_validate(&l), -EINVAL);
	make_thin(&l, 2); l.thin_meta_offset_bytes = MIB + 4096;
	assert_int_equal(dms_label_validate(&l), -EINVAL);
	make_thin(&l, 2); l.thin_virtual_bytes = 0;
	assert_int_equal(dms_label_validate(&l), -EINVAL);
	make_thin(&l, 2); l.thin_virtual_bytes = GIB + 1;
	assert_int_equal(dms_label_validate(&l), -EINVAL);
	make_thin(&l, 2); l.thin_meta_active_bytes = 0;
	assert_int_equal(dms_label_validate(&l), -EINVAL);
	make_thin(&l, 2); l.thin_meta_active_bytes = MIB + 4096;
	assert_int_equal(dms_label_validate(&l), -EINVAL);
	make_thin(&l, 2); l.thin_meta_active_bytes = 65 * MIB;
	assert_int_equal(dms_label_validate(&l), -EINVAL);
	/* metadata overlapping member 0's data area */
	make_thin(&l, 2); l.thin_meta_bytes = 65 * MIB;
	assert_int_equal(dms_label_validate(&l), -EINVAL);
	make_thin(&l, 2); l.thin_meta_offset_bytes = 66 * MIB;
	assert_int_equal(dms_label_validate(&l), -EINVAL);
	make_thin(&l, 2); l.thin_meta_bytes = UINT64_MAX - MIB + 1;
	assert_int_equal(dms_label_validate(&l), -EINVAL);
	/* other names */
	make_label(&l, 1, 0);
	snprintf(l.pool_name, sizeof(l.pool_name), "-rf");
	assert_int_equal(dms_label_validate(&l), -EINVAL);
	snprintf(l.pool_name, sizeof(l.pool_name), ".");
	assert_int_equal(dms_label_validate(&l), -EINVAL);
	snprintf(l.pool_name, sizeof(l.pool_name), ".hidden-ok");
	assert_int_equal(dms_label_validate(&l), 0);
	memset(l.pool_name, 'n', sizeof(l.pool_name));
	assert_int_equal(dms_label_validate(&l), -EINVAL);
	assert_int_equal(dms_label_validate(NULL), -EINVAL);
}

/* Random mutations with a resealed checksum: decode either refuses or yields
 * a label that validates and round-trips. Never crashes or over-reads. */
static void test_fuzz(void **state)
{
	(void)state;
	static struct dms_label l, out, again;
	uint32_t x = 0x12345678;
	make_label(&l, 3, 2);
	for (int it = 0; it < 20000; it++) {
		assert_int_equal(dms_label_encode(&l, 0, buf, sizeof(buf)), 0);
		int nmut = 1 + it % 4;
		for (int k = 0; k < nmut; k++) {
			x = x * 1664525u + 1013904223u;
			uint32_t off = (x >> 8) % enc_len(3);
			x = x * 1664525u + 1013904223u;
			buf[off] = (uint8_t)(x >> 24);
		}
		if (it % 3)
			reseal(buf);
		uint32_t len = get32(buf + O_LABEL_LEN);
		size_t n = len <= COPY ? len : enc_len(3);
		int r = decode_exact(buf, n, 0, &out);
		if (r == 0) {
			assert_int_equal(dms_label_validate(&out), 0);
			assert_int_equal(dms_label_encode(&out, 0, buf2, sizeof(buf2)), 0);
			assert_int_equal(dms_label_decode(buf2, sizeof(buf2), 0, &again), 0);
			assert_label_equal(&out, &again);
		} else {
			assert_true(r == -ENODATA || r == -EBADMSG || r == -EPROTONOSUPPORT ||
				    r == -EINVAL || r == -EMSGSIZE);
		}
	}
}

/* ---------------- pick ---------------- */

static uint8_t pa[COPY], pb[COPY];

static void enc_pair(const struct dms_label *la, const struct dms_label *lb)
{
	assert_int_equal(dms_label_encode(la, 0, pa, sizeof(pa)), 0);
	assert_int_equal(dms_label_encode(lb, 1, pb, sizeof(pb)), 0);
}

static void test_pick(void **state)
{
	(void)state;
	static struct dms_label l, l2, out;
	unsigned ok;

	make_label(&l, 2, 1);
	l2 = l;
	l2.generation = l.generation + 1;

	/* both good, same generation */
	enc_pair(&l, &l);
	assert_int_equal(dms_label_pick(pa, COPY, pb, COPY, &out, &ok), 0);
	assert_int_equal(ok, 3);
	assert_label_equal(&l, &out);

	/* torn A + good B */
	enc_pair(&l2, &l);
	pa[O_GENERATION] ^= 0x40;
	assert_int_equal(dms_label_pick(pa, COPY, pb, COPY, &out, &ok), 0);
	assert_int_equal(ok, 2);
	assert_int_equal(out.generation, l.generation);

	/* good A + torn B (B half written: tail zeroed) */
	enc_pair(&l2, &l2);
	memset(pb + 300, 0, COPY - 300);
	assert_int_equal(dms_label_pick(pa, COPY, pb, COPY, &out, &ok), 0);
	assert_int_equal(ok, 1);
	assert_int_equal(out.generation, l2.generation);

	/* both good, different generations: the higher one, whichever copy */
	enc_pair(&l2, &l);
	assert_int_equal(dms_label_pick(pa, COPY, pb, COPY, &out, &ok), 0);
	assert_int_equal(ok, 3 | DMS_COPY_B_STALE);      /* B is one generation behind: rewrite it */
	assert_int_equal(out.generation, l2.generation);
	enc_pair(&l, &l2);
	assert_int_equal(dms_label_pick(pa, COPY, pb, COPY, &out, &ok), 0);
	assert_int_equal(ok, 3 | DMS_COPY_A_STALE);
	assert_int_equal(out.generation, l2.generation);

	/* both torn: A's error */
	enc_pair(&l, &l);
	pa[600] ^= 1;
	pb[600] ^= 1;
	assert_int_equal(dms_label_pick(pa, COPY, pb, COPY, &out, &ok), -EBADMSG);
	assert_int_equal(ok, 0);

	/* A blank, B torn: -ENODATA would lie about B, but the contract returns A's */
	memset(pa, 0, COPY);
	assert_int_equal(dms_label_pick(pa, COPY, pb, COPY, &out, &ok), -ENODATA);
	/* blank device */
	memset(pb, 0, COPY);
	assert_int_equal(dms_label_pick(pa, COPY, pb, COPY, &out, &ok), -ENODATA);
	assert_int_equal(ok, 0);

	/* disagreeing uuids */
	enc_pair(&l, &l2);
	l2.pool_uuid[7] ^= 1;
	enc_pair(&l, &l2);
	assert_int_equal(dms_label_pick(pa, COPY, pb, COPY, &out, &ok), -EUCLEAN);
	assert_int_equal(ok, 3);
	l2 = l;
	l2.generation++;
	l2.member_index = 0;
	memcpy(l2.member_uuid, l2.members[0].uuid, 16);
	enc_pair(&l, &l2);
	assert_int_equal(dms_label_pick(pa, COPY, pb, COPY, &out, &ok), -EUCLEAN);

	/* same generation, different contents */
	l2 = l;
	l2.members[0].data_bytes -= MIB;
	enc_pair(&l, &l2);
	assert_int_equal(dms_label_pick(pa, COPY, pb, COPY, &out, &ok), -EUCLEAN);

	/* unreadable copies (NULL) and short reads */
	enc_pair(&l, &l);
	assert_int_equal(dms_label_pick(NULL, 0, pb, COPY, &out, &ok), 0);
	assert_int_equal(ok, 2);
	assert_int_equal(dms_label_pick(pa, COPY, NULL, 0, &out, &ok), 0);
	assert_int_equal(ok, 1);
	assert_int_equal(dms_label_pick(NULL, 0, NULL, 0, &out, &ok), -EIO);
	assert_int_equal(dms_label_pick(pa, 100, pb, COPY, &out, &ok), 0);
	assert_int_equal(ok, 2);
	assert_int_equal(dms_label_pick(pa, 100, pb, 100, &out, &ok), -EMSGSIZE);
	/* copies swapped on disk: both refused */
	assert_int_equal(dms_label_pick(pb, COPY, pa, COPY, &out, &ok), -EINVAL);
	assert_int_equal(ok, 0);
	/* copies_ok may be NULL */
	assert_int_equal(dms_label_pick(pa, COPY, pb, COPY, &out, NULL), 0);
}

/* ---------------- golden bytes (docs/FORMAT.md §7) ---------------- */

static const char golden_hex[] =
	"444d5343414c455f4c4142454c0000000100000000030000f610d62900000000"
	"0700000000000000000102030405060708090a0b0c0d0e0f1011121314151617"
	"18191a1b1c1d1e1f010000000200000073637261746368000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"78667300000000000000000000000000010000000000000000f1536500000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"202122232425262728292a2b2c2d2e2f766f6c2d303132333435363738396162"
	"6364656630000000000000000000000000000000020000000000100000000000"
	"0000f0ff01000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"101112131415161718191a1b1c1d1e1f766f6c2d306665646362613938373635"
	"3433323130000000000000000000000000000000040000000000100000000000"
	"0000f0ff03000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000";

static void golden_label(struct dms_label *l)
{
	memset(l, 0, sizeof(*l));
	l->version = 1;
	l->generation = 7;
	for (int i = 0; i < 16; i++) {
		l->pool_uuid[i] = (uint8_t)i;
		l->member_uuid[i] = (uint8_t)(0x10 + i);
		l->members[0].uuid[i] = (uint8_t)(0x20 + i);
		l->members[1].uuid[i] = (uint8_t)(0x10 + i);
	}
	l->member_index = 1;
	l->member_count = 2;
	snprintf(l->pool_name, sizeof(l->pool_name), "scratch");
	snprintf(l->fs_type, sizeof(l->fs_type), "xfs");
	l->target = DMS_TARGET_LINEAR;
	l->created_unix = 1700000000;
	snprintf(l->members[0].volume_id, DMS_VOLUME_ID_MAX, "vol-0123456789abcdef0");
	l->members[0].size_bytes = 8 * GIB;
	l->members[0].data_offset_bytes = MIB;
	l->members[0].data_bytes = 8 * GIB - MIB;
	snprintf(l->members[1].volume_id, DMS_VOLUME_ID_MAX, "vol-0fedcba9876543210");
	l->members[1].size_bytes = 16 * GIB;
	l->members[1].data_offset_bytes = MIB;
	l->members[1].data_bytes = 16 * GIB - MIB;
}

static void test_golden(void **state)
{
	(void)state;
	struct dms_label l, out;
	uint8_t want[768];
	golden_label(&l);
	assert_int_equal(strlen(golden_hex), 2 * sizeof(want));
	for (size_t i = 0; i < sizeof(want); i++) {
		unsigned v;
		assert_int_equal(sscanf(golden_hex + 2 * i, "%2x", &v), 1);
		want[i] = (uint8_t)v;
	}

	assert_int_equal(dms_label_encode(&l, 0, buf, sizeof(buf)), 0);
	/* spot checks at the documented offsets */
	assert_memory_equal(buf + O_MAGIC, "DMSCALE_LABEL\0\0\0", 16);
	assert_int_equal(get32(buf + O_VERSION), 1);
	assert_int_equal(get32(buf + O_LABEL_LEN), 768);
	assert_int_equal(get32(buf + O_CRC), 0x29D610F6u);
	assert_int_equal(buf[O_CRC], 0xF6); /* little endian */
	assert_int_equal(get32(buf + O_COPY), 0);
	assert_int_equal(get64(buf + O_GENERATION), 7);
	assert_int_equal(buf[O_POOL_UUID + 15], 0x0F);
	assert_int_equal(buf[O_MEMBER_UUID], 0x10);
	assert_int_equal(get32(buf + O_MEMBER_INDEX), 1);
	assert_int_equal(get32(buf + O_MEMBER_COUNT), 2);
	assert_string_equal((const char *)buf + O_POOL_NAME, "scratch");
	assert_string_equal((const char *)buf + O_FSTYPE, "xfs");
	assert_int_equal(get32(buf + O_TARGET), 1);
	assert_int_equal(get64(buf + O_CREATED), 1700000000);
	assert_int_equal(get64(buf + O_THIN_META_OFF) | get64(buf + O_THIN_META_LEN) | get64(buf + O_THIN_VIRT), 0);
	assert_int_equal(buf[HDR + E_UUID], 0x20);
	assert_string_equal((const char *)buf + HDR + E_VOLID, "vol-0123456789abcdef0");
	assert_int_equal(get64(buf + HDR + E_SIZE), 8 * GIB);
	assert_int_equal(get64(buf + HDR + E_DATA_OFF), MIB);
	assert_int_equal(get64(buf + HDR + E_DATA_LEN), 8 * GIB - MIB);
	assert_int_equal(buf[HDR + E_DATA_LEN + 3], 0xFF); /* 0x1FFF00000 little endian */
	assert_string_equal((const char *)buf + HDR + ENT + E_VOLID, "vol-0fedcba9876543210");
	assert_int_equal(get64(buf + HDR + ENT + E_SIZE), 16 * GIB);
	/* all 768 bytes, and zero after */
	assert_memory_equal(buf, want, sizeof(want));
	for (size_t i = sizeof(want); i < COPY; i++)
		assert_int_equal(buf[i], 0);
	/* and an encoding made elsewhere decodes */
	assert_int_equal(decode_exact(want, sizeof(want), 0, &out), 0);
	assert_label_equal(&l, &out);

	/* copy B differs only in copy and crc */
	assert_int_equal(dms_label_encode(&l, 1, buf, sizeof(buf)), 0);
	assert_int_equal(get32(buf + O_COPY), 1);
	assert_int_equal(get32(buf + O_CRC), 0xB80A42FCu);
}

/* ---------------- layout, sums, uuids, volume ids ---------------- */

static void test_member_layout(void **state)
{
	(void)state;
	struct dms_member m;
	memset(&m, 0, sizeof(m));
	make_uuid(m.uuid, 9);
	assert_int_equal(dms_member_layout(GIB, 0, &m), 0);
	assert_int_equal(m.size_bytes, GIB);
	assert_int_equal(m.data_offset_bytes, MIB);
	assert_int_equal(m.data_bytes, GIB - MIB);
	assert_int_equal(m.uuid[0], 9); /* untouched */

	assert_int_equal(dms_member_layout(10 * GIB + 12345, 0, &m), 0);
	assert_int_equal(m.size_bytes, 10 * GIB + 12345);
	assert_int_equal(m.data_bytes, 10 * GIB - MIB);

	/* thin: metadata area reserved after the labels on member 0 */
	assert_int_equal(dms_member_layout(2 * GIB, 64 * MIB, &m), 0);
	assert_int_equal(m.data_offset_bytes, 65 * MIB);
	assert_int_equal(m.data_bytes, 2 * GIB - 65 * MIB);
	assert_int_equal(dms_member_layout(2 * GIB, 100, &m), 0);
	assert_int_equal(m.data_offset_bytes, 2 * MIB);

	assert_int_equal(dms_member_layout(GIB - 1, 0, &m), -ERANGE);
	assert_int_equal(dms_member_layout(0, 0, &m), -ERANGE);
	assert_int_equal(dms_member_layout(GIB, GIB, &m), -ERANGE);
	assert_int_equal(dms_member_layout(GIB, GIB - MIB, &m), -ERANGE);
	assert_int_equal(dms_member_layout(UINT64_MAX, UINT64_MAX - 1, &m), -ERANGE);
	assert_int_equal(dms_member_layout(GIB, 0, NULL), -EINVAL);

	/* a laid-out member validates in a label */
	struct dms_label l;
	make_label(&l, 1, 0);
	assert_int_equal(dms_member_layout(3 * GIB + 7, 0, &l.members[0]), 0);
	assert_int_equal(dms_label_validate(&l), 0);
}

static void test_data_bytes(void **state)
{
	(void)state;
	static struct dms_label l;
	make_label(&l, 3, 0);
	assert_int_equal(dms_label_data_bytes(&l), (GIB - MIB) + (2 * GIB - MIB) + (3 * GIB - MIB));
	make_label(&l, 128, 0);
	/* sum over i=1..128 of (i GiB - 1 MiB) */
	assert_int_equal(dms_label_data_bytes(&l), 128ull * 129 / 2 * GIB - 128 * MIB);
	assert_int_equal(dms_label_data_bytes(NULL), 0);
}

static void test_uuid(void **state)
{
	(void)state;
	uint8_t u[16], v[16];
	char s[37];
	for (int i = 0; i < 16; i++)
		u[i] = (uint8_t)(0xF0 + i * 3);
	dms_uuid_format(u, s);
	assert_string_equal(s, "f0f3f6f9-fcff-0205-080b-0e1114171a1d");
	assert_int_equal(dms_uuid_parse(s, v), 0);
	assert_memory_equal(u, v, 16);
	assert_int_equal(dms_uuid_parse("F0F3F6F9-FCFF-0205-080B-0E1114171A1D", v), 0);
	assert_memory_equal(u, v, 16);

	memset(v, 0xAB, 16);
	const char *bad[] = {
		"", "f0f3f6f9-fcff-0205-080b-0e1114171a1", "f0f3f6f9-fcff-0205-080b-0e1114171a1d0",
		"f0f3f6f9fcff-0205-080b-0e1114171a1d0", "f0f3f6f9-fcff-0205-080b_0e1114171a1d",
		"g0f3f6f9-fcff-0205-080b-0e1114171a1d", "f0f3f6f9-fcff-0205-080b-0e1114171a1 ",
		"-0f3f6f9-fcff-0205-080b-0e1114171a1d", "f0f3f6f9-fcff-02-5-080b-0e1114171a1d",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (dms_uuid_parse(bad[i], v) != -EINVAL)
			fail_msg("accepted uuid '%s'", bad[i]);
	}
	for (int i = 0; i < 16; i++)
		assert_int_equal(v[i], 0xAB); /* untouched on error */
	assert_int_equal(dms_uuid_parse(NULL, v), -EINVAL);
}

static void test_volume_id_from_serial(void **state)
{
	(void)state;
	char out[DMS_VOLUME_ID_MAX];
	assert_int_equal(dms_volume_id_from_serial("vol0123456789abcdef0", out), 0);
	assert_string_equal(out, "vol-0123456789abcdef0");
	assert_int_equal(dms_volume_id_from_serial("vol0123456789abcdef0   ", out), 0);
	assert_string_equal(out, "vol-0123456789abcdef0");
	assert_int_equal(dms_volume_id_from_serial("vol0fedcba9876543210\n", out), 0);
	assert_string_equal(out, "vol-0fedcba9876543210");
	assert_int_equal(dms_volume_id_from_serial("vol1234abcd", out), 0); /* pre-2018 short id */
	assert_string_equal(out, "vol-1234abcd");

	const char *bad[] = {
		"", "   ", "vol", "vol ", "nvme0123456789abcdef0", "vol-0123456789abcdef0",
		"vol0123456789abcdef", "vol0123456789abcdef01", "vol0123456789abcdeg0",
		"vol0123456789ABCDEF0", "Vol0123456789abcdef0", " vol0123456789abcdef0",
		"vol0123456789 abcdef0", "vol0123456789abcdef0 x", "AWS-123456789", "i-0123456789abcdef0",
		"vol1234abc", "vol1234abcd0", "vo_0123456789abcdef0", "vox1234abcd",
		"vol0123456789abcdef0                                                                    ",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(out, 'Z', sizeof(out));
		if (dms_volume_id_from_serial(bad[i], out) != -EINVAL)
			fail_msg("accepted serial '%s'", bad[i]);
	}
	assert_int_equal(dms_volume_id_from_serial(NULL, out), -EINVAL);

	/* what it produces is what validate accepts */
	struct dms_label l;
	make_label(&l, 1, 0);
	assert_int_equal(dms_volume_id_from_serial("vol0aaaabbbbccccdddd1", l.members[0].volume_id), -EINVAL);
	assert_int_equal(dms_volume_id_from_serial("vol0aaaabbbbccccddd1", l.members[0].volume_id), 0);
	assert_int_equal(dms_label_validate(&l), 0);
}


/* issue 12: the sum of the members' data areas must not overflow. */
static void test_data_bytes_overflow(void **state)
{
	(void)state;
	static struct dms_label l;
	make_label(&l, 2, 0);
	for (int i = 0; i < 2; i++) {
		l.members[i].size_bytes = UINT64_MAX & ~(MIB - 1);
		l.members[i].data_offset_bytes = MIB;
		l.members[i].data_bytes = (UINT64_MAX & ~(MIB - 1)) - MIB;
	}
	assert_int_equal(dms_label_validate(&l), -EINVAL);
	l.members[1].data_bytes = MIB;               /* the sum fits */
	assert_int_equal(dms_label_validate(&l), 0);
}

/* A device that shrank (or got a copy of a bigger disk's label) is not the
 * member its label describes: scan ignores it, so it is never written. */
static void test_fits_device(void **state)
{
	(void)state;
	struct dms_label l;
	make_label(&l, 3, 1);
	const bytes_t size = l.members[1].size_bytes;
	assert_true(dms_label_fits_device(&l, size));
	assert_true(dms_label_fits_device(&l, size + 4096));
	assert_false(dms_label_fits_device(&l, size - 512));
	assert_false(dms_label_fits_device(&l, 0));
	l.member_index = 3;                       /* out of range: never fits */
	assert_false(dms_label_fits_device(&l, size));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_1),
		cmocka_unit_test(test_roundtrip_128_all_fields),
		cmocka_unit_test(test_copies),
		cmocka_unit_test(test_encode_errors),
		cmocka_unit_test(test_every_byte_flip),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_version_skew),
		cmocka_unit_test(test_blank),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_label_len_corrupt),
		cmocka_unit_test(test_thin_validate),
		cmocka_unit_test(test_data_bytes_overflow),
		cmocka_unit_test(test_fuzz),
		cmocka_unit_test(test_pick),
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_member_layout),
		cmocka_unit_test(test_data_bytes),
		cmocka_unit_test(test_uuid),
		cmocka_unit_test(test_volume_id_from_serial),
		cmocka_unit_test(test_fits_device),
	};
	return cmocka_run_group_tests_name("label", tests, NULL, NULL);
}
