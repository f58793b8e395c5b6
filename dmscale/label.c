/* dmscale member label: on-disk codec (pure, no syscalls, no allocation): the
 * v1 fields, the checks, the choice between the two copies, member layout.
 *
 * The byte layout is specified in docs/FORMAT.md; the DL_* offsets of
 * label_priv.h are that table. Every field is serialised byte by byte in
 * little endian; no struct is ever copied to or from the disk buffer. The
 * version 2 fields (member kinds, stripe, recreate lineage) are label_v2.c's. */
#include "dmscale/label.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "dmscale/crc32c.h"
#include "dmscale/label_priv.h"

static const uint8_t dl_magic[DL_MAGIC_LEN] = {
	'D', 'M', 'S', 'C', 'A', 'L', 'E', '_', 'L', 'A', 'B', 'E', 'L', 0, 0, 0,
};

/* Copy a NUL-terminated string field of `field` bytes; the string must fit
 * with its NUL (guaranteed by validate). The rest of the field is zero. */
static void put_str(uint8_t *p, const char *s, size_t field)
{
	size_t n = strnlen(s, field);
	memset(p, 0, field);
	memcpy(p, s, n < field ? n : field - 1);
}

/* Read a string field: it must hold a NUL, and every byte after the first NUL
 * must be zero (canonical encoding). */
static int get_str(const uint8_t *p, size_t field, char *out)
{
	const uint8_t *nul = memchr(p, 0, field);
	if (!nul)
		return -EINVAL;
	for (const uint8_t *q = nul; q < p + field; q++)
		if (*q)
			return -EINVAL;
	memcpy(out, p, field);
	return 0;
}

_Static_assert(DL_MAX_LABEL_BYTES <= DMS_LABEL_READ_BYTES && DMS_LABEL_READ_BYTES <= DMS_LABEL_COPY_BYTES &&
	       DMS_LABEL_READ_BYTES % 4096 == 0, "a reader's read holds every valid label");

/* CRC of the first label_len bytes of a copy, with the crc field read as zero. */
static uint32_t label_crc(const uint8_t *buf, size_t label_len)
{
	static const uint8_t zero[4];
	uint32_t crc = dms_crc32c(0, buf, DL_CRC_OFF);
	crc = dms_crc32c(crc, zero, sizeof(zero));
	return dms_crc32c(crc, buf + DL_CRC_OFF + 4, label_len - (DL_CRC_OFF + 4));
}

/* ---- validation ---- */
static int is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* EBS volume ids: "vol-" + 17 lowercase hex digits (or 8 for pre-2018 ids). */
static int volume_id_valid(const char *v, size_t field)
{
	size_t n = strnlen(v, field);
	if (n == field)
		return 0;
	if (n == 0)
		return 1;
	if (strncmp(v, "vol-", 4) != 0 || (n - 4 != 17 && n - 4 != 8))
		return 0;
	for (size_t i = 4; i < n; i++)
		if (!is_lower_hex(v[i]))
			return 0;
	return 1;
}

static int pool_name_valid(const char *s)
{
	size_t n = strnlen(s, DMS_POOL_NAME_MAX);
	if (n == 0 || n == DMS_POOL_NAME_MAX)
		return 0;
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0 || s[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

static int fs_type_valid(const char *s)
{
	if (strnlen(s, DMS_FSTYPE_MAX) == DMS_FSTYPE_MAX)
		return 0;
	return strcmp(s, "ext4") == 0 || strcmp(s, "xfs") == 0 || strcmp(s, "btrfs") == 0;
}

static int member_valid(const struct dms_member *m)
{
	if (uuid_is_zero(m->uuid))
		return 0;
	if (!volume_id_valid(m->volume_id, sizeof(m->volume_id)))
		return 0;
	if (m->data_bytes == 0 || m->data_bytes % DMS_DATA_ALIGN_BYTES)
		return 0;
	if (m->data_offset_bytes < DMS_DATA_OFFSET_BYTES || m->data_offset_bytes % DMS_DATA_ALIGN_BYTES)
		return 0;
	if (m->data_offset_bytes > m->size_bytes || m->data_bytes > m->size_bytes - m->data_offset_bytes)
		return 0;
	return 1;
}

/* Two members with one uuid, or one EBS volume id? An open-addressing set of
 * member indexes per key (no allocation): linear in the member count, where
 * comparing every pair made each validation quadratic, and the assembly
 * validates every label several times. */
#define DUP_SLOTS 256                   /* > member count: a probe always ends at a free slot */
_Static_assert(DUP_SLOTS > DMS_MAX_MEMBERS && DMS_MAX_MEMBERS < 255, "slots hold index + 1 in a byte");

/* Insert member i's key into set: 1 when an equal key is already there. The
 * slot comes from key bytes that vary: a uuid's first four (random), a
 * volume id's last four hex digits; an unlucky set only probes longer. */
static int dup_insert(const struct dms_label *l, uint8_t set[DUP_SLOTS], uint32_t i, bool by_volume)
{
	const struct dms_member *m = &l->members[i];
	const uint8_t *key = m->uuid;
	if (by_volume) {
		size_t len = strnlen(m->volume_id, sizeof(m->volume_id));
		key = (const uint8_t *)m->volume_id + (len >= 4 ? len - 4 : 0);
	}
	uint32_t h = (key[0] + 31u * key[1] + 961u * key[2] + 29791u * key[3]) % DUP_SLOTS;
	for (; set[h]; h = (h + 1) % DUP_SLOTS) {
		const struct dms_member *o = &l->members[set[h] - 1];
		if (by_volume ? strcmp(o->volume_id, m->volume_id) == 0 : memcmp(o->uuid, m->uuid, 16) == 0)
			return 1;
	}
	set[h] = (uint8_t)(i + 1);
	return 0;
}

static int has_duplicates(const struct dms_label *l)
{
	uint8_t uuids[DUP_SLOTS] = { 0 }, volumes[DUP_SLOTS] = { 0 };
	for (uint32_t i = 0; i < l->member_count; i++)
		if (dup_insert(l, uuids, i, false) || (l->members[i].volume_id[0] && dup_insert(l, volumes, i, true)))
			return 1;
	return 0;
}

int dms_label_validate(const struct dms_label *l)
{
	if (!l)
		return -EINVAL;
	if (l->version != DMS_LABEL_VERSION && l->version != DMS_LABEL_VERSION_2)
		return -EINVAL;
	if (l->generation == 0)
		return -EINVAL;
	if (uuid_is_zero(l->pool_uuid) || uuid_is_zero(l->member_uuid))
		return -EINVAL;
	if (!pool_name_valid(l->pool_name) || !fs_type_valid(l->fs_type))
		return -EINVAL;
	if (l->member_count < 1 || l->member_count > DMS_MAX_MEMBERS)
		return -EINVAL;
	if (l->member_index >= l->member_count)
		return -EINVAL;
	if (memcmp(l->members[l->member_index].uuid, l->member_uuid, 16) != 0)
		return -EINVAL;

	bytes_t total = 0;
	for (uint32_t i = 0; i < l->member_count; i++) {
		const struct dms_member *m = &l->members[i];
		if (!member_valid(m))
			return -EINVAL;
		if (m->data_bytes > UINT64_MAX - total)
			return -EINVAL;         /* the pool's size must fit in 64 bits */
		total += m->data_bytes;
	}
	if (has_duplicates(l))
		return -EINVAL;

	if (!dl_v2_valid(l))
		return -EINVAL;
	if (l->stripe_count && l->target != DMS_TARGET_LINEAR)
		return -EINVAL;                 /* a stripe is a dm-linear pool's first segment */

	switch (l->target) {
	case DMS_TARGET_LINEAR:
		if (l->thin_meta_offset_bytes || l->thin_meta_bytes || l->thin_virtual_bytes ||
		    l->thin_meta_active_bytes)
			return -EINVAL;
		break;
	case DMS_TARGET_THIN: {
		const struct dms_member *m0 = &l->members[0];
		if (l->thin_meta_offset_bytes < DMS_DATA_OFFSET_BYTES ||
		    l->thin_meta_offset_bytes % DMS_DATA_ALIGN_BYTES)
			return -EINVAL;
		if (l->thin_meta_bytes == 0 || l->thin_meta_bytes % DMS_DATA_ALIGN_BYTES)
			return -EINVAL;
		if (l->thin_virtual_bytes == 0 || l->thin_virtual_bytes % SECTOR_BYTES)
			return -EINVAL;
		if (l->thin_meta_active_bytes == 0 || l->thin_meta_active_bytes % DMS_DATA_ALIGN_BYTES ||
		    l->thin_meta_active_bytes > l->thin_meta_bytes)
			return -EINVAL;
		/* the metadata area lies on member 0, before its data area */
		if (l->thin_meta_offset_bytes > m0->data_offset_bytes ||
		    l->thin_meta_bytes > m0->data_offset_bytes - l->thin_meta_offset_bytes)
			return -EINVAL;
		break;
	}
	default:
		return -EINVAL;
	}
	return 0;
}

/* ---- encode / decode ---- */
int dms_label_encode(const struct dms_label *l, unsigned copy, uint8_t *buf, size_t buflen)
{
	if (!l || !buf || copy > 1)
		return -EINVAL;
	int r = dms_label_validate(l);
	if (r < 0)
		return r;
	if (buflen < DMS_LABEL_COPY_BYTES)
		return -ENOSPC;

	const uint32_t label_len = DL_HEADER_BYTES + DL_ENTRY_BYTES * l->member_count;

	memset(buf, 0, DMS_LABEL_COPY_BYTES);
	memcpy(buf + DL_MAGIC_OFF, dl_magic, DL_MAGIC_LEN);
	put_u32(buf + DL_VERSION_OFF, l->version);
	put_u32(buf + DL_LABEL_LEN_OFF, label_len);
	put_u32(buf + DL_COPY_OFF, copy);
	put_u64(buf + DL_GENERATION_OFF, l->generation);
	memcpy(buf + DL_POOL_UUID_OFF, l->pool_uuid, 16);
	memcpy(buf + DL_MEMBER_UUID_OFF, l->member_uuid, 16);
	put_u32(buf + DL_MEMBER_INDEX_OFF, l->member_index);
	put_u32(buf + DL_MEMBER_COUNT_OFF, l->member_count);
	put_str(buf + DL_POOL_NAME_OFF, l->pool_name, DMS_POOL_NAME_MAX);
	put_str(buf + DL_FSTYPE_OFF, l->fs_type, DMS_FSTYPE_MAX);
	put_u32(buf + DL_TARGET_OFF, l->target);
	put_u64(buf + DL_CREATED_OFF, l->created_unix);
	put_u64(buf + DL_THIN_META_OFF_OFF, l->thin_meta_offset_bytes);
	put_u64(buf + DL_THIN_META_LEN_OFF, l->thin_meta_bytes);
	put_u64(buf + DL_THIN_VIRT_OFF, l->thin_virtual_bytes);
	put_u64(buf + DL_THIN_META_ACT_OFF, l->thin_meta_active_bytes);

	for (uint32_t i = 0; i < l->member_count; i++) {
		const struct dms_member *m = &l->members[i];
		uint8_t *e = buf + dl_entry_off(i);
		memcpy(e + DLE_UUID_OFF, m->uuid, 16);
		put_str(e + DLE_VOLID_OFF, m->volume_id, DMS_VOLUME_ID_MAX);
		put_u64(e + DLE_SIZE_OFF, m->size_bytes);
		put_u64(e + DLE_DATA_OFF_OFF, m->data_offset_bytes);
		put_u64(e + DLE_DATA_LEN_OFF, m->data_bytes);
	}
	dl_v2_encode(l, buf);

	put_u32(buf + DL_CRC_OFF, label_crc(buf, label_len));
	return 0;
}

int dms_label_decode(const uint8_t *buf, size_t buflen, unsigned copy, struct dms_label *out)
{
	if (!buf || !out || copy > 1)
		return -EINVAL;
	memset(out, 0, sizeof(*out));

	if (buflen < DL_MAGIC_LEN)
		return -EMSGSIZE;
	if (memcmp(buf + DL_MAGIC_OFF, dl_magic, DL_MAGIC_LEN) != 0)
		return -ENODATA;
	if (buflen < DL_VERSION_OFF + 4)
		return -EMSGSIZE;
	/* The version defines everything after it (including the checksum
	 * rules), so it is checked before the checksum. */
	const uint32_t version = get_u32(buf + DL_VERSION_OFF);
	if (version != DMS_LABEL_VERSION && version != DMS_LABEL_VERSION_2)
		return -EPROTONOSUPPORT;
	if (buflen < DL_HEADER_BYTES)
		return -EMSGSIZE;

	/* label_len says how much the checksum covers; a value no valid v1 label
	 * can have means the checksum cannot even be verified: corrupt. */
	const uint32_t label_len = get_u32(buf + DL_LABEL_LEN_OFF);
	if (label_len < DL_HEADER_BYTES || label_len > DMS_LABEL_COPY_BYTES)
		return -EBADMSG;
	if (buflen < label_len)
		return -EMSGSIZE;
	if (get_u32(buf + DL_CRC_OFF) != label_crc(buf, label_len))
		return -EBADMSG;

	/* From here on the bytes are what some writer wrote: check consistency. */
	if (get_u32(buf + DL_COPY_OFF) != copy)
		return -EINVAL;
	const uint32_t count = get_u32(buf + DL_MEMBER_COUNT_OFF);
	if (count < 1 || count > DMS_MAX_MEMBERS)
		return -EINVAL;
	if (label_len != DL_HEADER_BYTES + DL_ENTRY_BYTES * count)
		return -EINVAL;

	int r;
	out->version = version;
	out->generation = get_u64(buf + DL_GENERATION_OFF);
	memcpy(out->pool_uuid, buf + DL_POOL_UUID_OFF, 16);
	memcpy(out->member_uuid, buf + DL_MEMBER_UUID_OFF, 16);
	out->member_index = get_u32(buf + DL_MEMBER_INDEX_OFF);
	out->member_count = count;
	if ((r = get_str(buf + DL_POOL_NAME_OFF, DMS_POOL_NAME_MAX, out->pool_name)) < 0 ||
	    (r = get_str(buf + DL_FSTYPE_OFF, DMS_FSTYPE_MAX, out->fs_type)) < 0)
		goto fail;
	out->target = get_u32(buf + DL_TARGET_OFF);
	out->created_unix = get_u64(buf + DL_CREATED_OFF);
	out->thin_meta_offset_bytes = get_u64(buf + DL_THIN_META_OFF_OFF);
	out->thin_meta_bytes = get_u64(buf + DL_THIN_META_LEN_OFF);
	out->thin_virtual_bytes = get_u64(buf + DL_THIN_VIRT_OFF);
	out->thin_meta_active_bytes = get_u64(buf + DL_THIN_META_ACT_OFF);

	for (uint32_t i = 0; i < count; i++) {
		struct dms_member *m = &out->members[i];
		const uint8_t *e = buf + dl_entry_off(i);
		memcpy(m->uuid, e + DLE_UUID_OFF, 16);
		if ((r = get_str(e + DLE_VOLID_OFF, DMS_VOLUME_ID_MAX, m->volume_id)) < 0)
			goto fail;
		m->size_bytes = get_u64(e + DLE_SIZE_OFF);
		m->data_offset_bytes = get_u64(e + DLE_DATA_OFF_OFF);
		m->data_bytes = get_u64(e + DLE_DATA_LEN_OFF);
	}
	dl_v2_decode(buf, out);

	if ((r = dms_label_validate(out)) < 0)
		goto fail;
	return 0;
fail:
	memset(out, 0, sizeof(*out));
	return -EINVAL;
}

/* Field-by-field equality of two decoded labels (copy number is not a field). */
static int label_equal(const struct dms_label *a, const struct dms_label *b)
{
	if (a->version != b->version || a->generation != b->generation ||
	    memcmp(a->pool_uuid, b->pool_uuid, 16) || memcmp(a->member_uuid, b->member_uuid, 16) ||
	    a->member_index != b->member_index || strcmp(a->pool_name, b->pool_name) ||
	    strcmp(a->fs_type, b->fs_type) || a->target != b->target ||
	    a->created_unix != b->created_unix ||
	    a->thin_meta_offset_bytes != b->thin_meta_offset_bytes ||
	    a->thin_meta_bytes != b->thin_meta_bytes ||
	    a->thin_virtual_bytes != b->thin_virtual_bytes ||
	    a->thin_meta_active_bytes != b->thin_meta_active_bytes || a->member_count != b->member_count ||
	    !dl_v2_equal(a, b))
		return 0;
	for (uint32_t i = 0; i < a->member_count && i < DMS_MAX_MEMBERS; i++) {
		const struct dms_member *x = &a->members[i], *y = &b->members[i];
		if (memcmp(x->uuid, y->uuid, 16) || strcmp(x->volume_id, y->volume_id) ||
		    x->size_bytes != y->size_bytes || x->data_offset_bytes != y->data_offset_bytes ||
		    x->data_bytes != y->data_bytes)
			return 0;
	}
	return 1;
}

bool dms_label_error_is_content(int r)
{
	return r == -EBADMSG || r == -EINVAL || r == -EPROTONOSUPPORT || r == -EMSGSIZE || r == -EUCLEAN;
}

int dms_label_pick(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
		   struct dms_label *out, unsigned *copies_ok)
{
	/* ~10 KiB each: fine on a normal stack, and no allocation. */
	struct dms_label la, lb;
	int ra = a ? dms_label_decode(a, alen, 0, &la) : -EIO;
	int rb = b ? dms_label_decode(b, blen, 1, &lb) : -EIO;
	unsigned ok = (ra == 0 ? 1u : 0u) | (rb == 0 ? 2u : 0u);

	if (copies_ok)
		*copies_ok = ok;
	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));

	switch (ok) {
	case 0:
		return ra;
	case 1:
		*out = la;
		return 0;
	case 2:
		*out = lb;
		return 0;
	default:
		break;
	}

	/* Both copies valid: they must describe the same device of the same pool,
	 * or of two incarnations of it (the higher recreate epoch wins). */
	if (memcmp(la.pool_uuid, lb.pool_uuid, 16) || memcmp(la.member_uuid, lb.member_uuid, 16)) {
		int w = dl_recreate_winner(&la, &lb);
		if (!w)
			return -EUCLEAN;
		*out = w == 1 ? la : lb;
		if (copies_ok)
			*copies_ok |= w == 1 ? DMS_COPY_B_STALE : DMS_COPY_A_STALE;
		return 0;
	}
	if (la.generation == lb.generation) {
		/* A writer never writes two different labels with one generation. */
		if (!label_equal(&la, &lb))
			return -EUCLEAN;
		*out = la;
	} else {
		*out = la.generation > lb.generation ? la : lb;
		/* the older copy is valid but stale: it must be rewritten too */
		if (copies_ok)
			*copies_ok |= la.generation > lb.generation ? DMS_COPY_B_STALE : DMS_COPY_A_STALE;
	}
	return 0;
}

/* ---- layout ---- */
int dms_member_layout(bytes_t device_bytes, bytes_t reserved_after_label_bytes, struct dms_member *m)
{
	if (!m)
		return -EINVAL;
	if (device_bytes < DMS_MIN_DEVICE_BYTES)
		return -ERANGE;
	if (reserved_after_label_bytes >= device_bytes ||
	    reserved_after_label_bytes > UINT64_MAX - 2 * DMS_DATA_ALIGN_BYTES)
		return -ERANGE;
	bytes_t off = DMS_DATA_OFFSET_BYTES + align_up(reserved_after_label_bytes, DMS_DATA_ALIGN_BYTES);
	if (off >= device_bytes)
		return -ERANGE;
	bytes_t data = align_down(device_bytes - off, DMS_DATA_ALIGN_BYTES);
	if (data == 0)
		return -ERANGE;
	m->size_bytes = device_bytes;
	m->data_offset_bytes = off;
	m->data_bytes = data;
	return 0;
}

bytes_t dms_label_data_bytes(const struct dms_label *l)
{
	bytes_t sum = 0;
	if (!l)
		return 0;
	for (uint32_t i = 0; i < l->member_count && i < DMS_MAX_MEMBERS; i++)
		sum += l->members[i].data_bytes;
	return sum;
}

/* ---- uuid / volume id ---- */
void dms_uuid_format(const uint8_t uuid[16], char out[37])
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (unsigned i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[uuid[i] >> 4];
		out[o++] = hex[uuid[i] & 0xF];
	}
	out[o] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int dms_uuid_parse(const char *s, uint8_t uuid[16])
{
	uint8_t tmp[16];
	size_t o = 0;
	if (!s || !uuid || strnlen(s, 37) != 36)
		return -EINVAL;
	for (size_t i = 0; i < 36;) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -EINVAL;
			i++;
			continue;
		}
		int hi = hexval(s[i]), lo = hexval(s[i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		tmp[o++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	memcpy(uuid, tmp, 16);
	return 0;
}

int dms_volume_id_from_serial(const char *serial, char out[DMS_VOLUME_ID_MAX])
{
	if (!serial || !out)
		return -EINVAL;
	/* NVMe serials are at most 20 characters; allow generous padding. */
	size_t n = strnlen(serial, 64);
	if (n == 64)
		return -EINVAL;
	while (n > 0 && (serial[n - 1] == ' ' || serial[n - 1] == '\n' || serial[n - 1] == '\t' ||
			 serial[n - 1] == '\r'))
		n--;
	if (n < 3 || strncmp(serial, "vol", 3) != 0)
		return -EINVAL;
	size_t hexlen = n - 3;
	if (hexlen != 17 && hexlen != 8)
		return -EINVAL;
	for (size_t i = 3; i < n; i++)
		if (!is_lower_hex(serial[i]))
			return -EINVAL;
	snprintf(out, DMS_VOLUME_ID_MAX, "vol-%.*s", (int)hexlen, serial + 3);
	return 0;
}

bool dms_label_fits_device(const struct dms_label *l, bytes_t device_bytes)
{
	if (l->member_index >= l->member_count || l->member_index >= DMS_MAX_MEMBERS)
		return false;
	const struct dms_member *m = &l->members[l->member_index];
	return m->size_bytes <= device_bytes && m->data_offset_bytes <= m->size_bytes &&
	       m->data_bytes <= m->size_bytes - m->data_offset_bytes;
}
