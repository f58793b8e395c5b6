/* The member label's byte layout (docs/FORMAT.md §2) and field helpers, shared
 * by the codec's two files: label.c (the v1 fields, checks, copy choice) and
 * label_v2.c (the v2 fields). Private to them; everyone else uses label.h. */
#ifndef DMSCALE_LABEL_PRIV_H
#define DMSCALE_LABEL_PRIV_H
#include <stddef.h>
#include <stdint.h>

#include "dmscale/label.h"

/* ---- on-disk layout, versions 1 and 2 (docs/FORMAT.md §2) ---- */
#define DL_MAGIC_OFF         0u
#define DL_MAGIC_LEN         16u
#define DL_VERSION_OFF       16u    /* u32 */
#define DL_LABEL_LEN_OFF     20u    /* u32: bytes covered by the checksum */
#define DL_CRC_OFF           24u    /* u32: CRC-32C, computed with these 4 bytes zero */
#define DL_COPY_OFF          28u    /* u32: 0 = copy A, 1 = copy B */
#define DL_GENERATION_OFF    32u    /* u64 */
#define DL_POOL_UUID_OFF     40u    /* 16 bytes */
#define DL_MEMBER_UUID_OFF   56u    /* 16 bytes */
#define DL_MEMBER_INDEX_OFF  72u    /* u32 */
#define DL_MEMBER_COUNT_OFF  76u    /* u32 */
#define DL_POOL_NAME_OFF     80u    /* DMS_POOL_NAME_MAX (48) bytes */
#define DL_FSTYPE_OFF        128u   /* DMS_FSTYPE_MAX (16) bytes */
#define DL_TARGET_OFF        144u   /* u32 */
#define DL_RESERVED0_OFF     148u   /* u32, reserved (zero) */
#define DL_CREATED_OFF       152u   /* u64 */
#define DL_THIN_META_OFF_OFF 160u   /* u64 */
#define DL_THIN_META_LEN_OFF 168u   /* u64 */
#define DL_THIN_VIRT_OFF     176u   /* u64 */
#define DL_THIN_META_ACT_OFF 184u   /* u64 */
/* v2 only (reserved, zero, ignored in v1): */
#define DL_STRIPE_COUNT_OFF  192u   /* u32 */
#define DL_RESERVED1_OFF     196u   /* u32, reserved (zero) */
#define DL_STRIPE_CHUNK_OFF  200u   /* u64 */
#define DL_LINEAGE_OFF       208u   /* 16 bytes */
#define DL_EPOCH_OFF         224u   /* u32 */
/* 228..511 reserved (zero) */
#define DL_HEADER_BYTES      512u
#define DL_MEMBERS_OFF       DL_HEADER_BYTES
#define DL_ENTRY_BYTES       128u
#define DLE_UUID_OFF         0u     /* 16 bytes */
#define DLE_VOLID_OFF        16u    /* DMS_VOLUME_ID_MAX (32) bytes */
#define DLE_SIZE_OFF         48u    /* u64 */
#define DLE_DATA_OFF_OFF     56u    /* u64 */
#define DLE_DATA_LEN_OFF     64u    /* u64 */
#define DLE_KIND_OFF         72u    /* u32, v2 only */
/* 76..127 reserved (zero) */
#define DL_MAX_LABEL_BYTES   (DL_HEADER_BYTES + DL_ENTRY_BYTES * DMS_MAX_MEMBERS)

_Static_assert(DL_POOL_NAME_OFF + DMS_POOL_NAME_MAX == DL_FSTYPE_OFF, "layout");
_Static_assert(DL_FSTYPE_OFF + DMS_FSTYPE_MAX == DL_TARGET_OFF, "layout");
_Static_assert(DL_THIN_META_ACT_OFF + 8 <= DL_HEADER_BYTES, "layout");
_Static_assert(DLE_VOLID_OFF + DMS_VOLUME_ID_MAX == DLE_SIZE_OFF, "layout");
_Static_assert(DLE_DATA_LEN_OFF + 8 <= DLE_KIND_OFF, "layout");
_Static_assert(DLE_KIND_OFF + 4 <= DL_ENTRY_BYTES, "layout");
_Static_assert(DL_THIN_META_ACT_OFF + 8 <= DL_STRIPE_COUNT_OFF, "layout");
_Static_assert(DL_EPOCH_OFF + 4 <= DL_HEADER_BYTES, "layout");
_Static_assert(DL_MAX_LABEL_BYTES <= DMS_LABEL_COPY_BYTES, "label must fit one copy");
_Static_assert(DMS_LABEL_COPY_B_OFFSET + DMS_LABEL_COPY_BYTES <= DMS_DATA_OFFSET_BYTES, "copies before data");

/* Member entry i of an encoded copy. */
static inline size_t dl_entry_off(uint32_t i)
{
	return DL_MEMBERS_OFF + (size_t)i * DL_ENTRY_BYTES;
}

/* ---- little-endian fields, byte by byte (no struct touches the disk buffer) ---- */
static inline void put_u32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void put_u64(uint8_t *p, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t get_u32(const uint8_t *p)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < 4; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static inline uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static inline int uuid_is_zero(const uint8_t u[16])
{
	for (unsigned i = 0; i < 16; i++)
		if (u[i])
			return 0;
	return 1;
}

/* ---- the v2 fields (label_v2.c) ---- */
/* The v2 fields of l are consistent with its version (v1: none used) and with
 * each other (member kinds, the stripe over the leading members). */
int dl_v2_valid(const struct dms_label *l);
/* Write / read the v2 fields (header and each member entry's kind) of a copy
 * whose version is >= 2; a v1 copy has none (reserved bytes, left zero or ignored). */
void dl_v2_encode(const struct dms_label *l, uint8_t *buf);
void dl_v2_decode(const uint8_t *buf, struct dms_label *out);
/* The v2 fields of a and b (header, member kinds) are equal; a and b have the
 * same member_count. */
int dl_v2_equal(const struct dms_label *a, const struct dms_label *b);
/* Copies of one device from two incarnations of one pool (a scratch recreate
 * interrupted between its two copy batches): 1 if a wins, 2 if b wins, 0 if
 * they are not related that way. */
int dl_recreate_winner(const struct dms_label *a, const struct dms_label *b);
#endif
