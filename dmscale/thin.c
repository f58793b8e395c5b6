/* dm-thin planning (pure). See thin.h. */
#include "dmscale/thin.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define META_BYTES_PER_BLOCK 64ULL

int dms_parse_size(const char *s, bytes_t *out)
{
	if (!s || !out || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	/* integer part and an optional fraction of up to 6 digits, in fixed point */
	uint64_t whole = 0, frac = 0, frac_div = 1;
	const char *p = s;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (whole > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		whole = whole * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (frac_div >= 1000000)
				return -EINVAL;
			frac = frac * 10 + (uint64_t)(*p - '0');
			frac_div *= 10;
		}
	}
	uint64_t mult = 1;
	switch (*p) {
	case '\0': break;
	case 'K': case 'k': mult = KIB; p++; break;
	case 'M': case 'm': mult = MIB; p++; break;
	case 'G': case 'g': mult = GIB; p++; break;
	case 'T': case 't': mult = TIB; p++; break;
	case 'P': case 'p': mult = 1024 * TIB; p++; break;
	default: return -EINVAL;
	}
	if (mult > 1 && (!strcasecmp(p, "iB") || !strcasecmp(p, "B")))
		p += strlen(p);
	if (*p)
		return -EINVAL;
	if (frac && mult == 1)
		return -EINVAL;            /* fractional bytes */
	if (whole > UINT64_MAX / mult)
		return -ERANGE;
	uint64_t v = whole * mult;
	uint64_t f = mult / frac_div * frac + (mult % frac_div) * frac / frac_div;
	if (v > UINT64_MAX - f)
		return -ERANGE;
	*out = v + f;
	return 0;
}

bytes_t dms_thin_meta_rule_bytes(bytes_t data_bytes)
{
	uint64_t blocks = data_bytes / DMS_THIN_BLOCK_BYTES + 1;
	bytes_t b;
	if (blocks > UINT64_MAX / META_BYTES_PER_BLOCK)
		return DMS_THIN_META_MAX_BYTES;
	b = align_up(blocks * META_BYTES_PER_BLOCK, MIB);
	if (b < DMS_THIN_META_MIN_BYTES)
		b = DMS_THIN_META_MIN_BYTES;
	return b > DMS_THIN_META_MAX_BYTES ? DMS_THIN_META_MAX_BYTES : b;
}

int dms_thin_meta_reserve(bytes_t device_bytes, bytes_t max_data_bytes, bytes_t *reserve_bytes)
{
	bytes_t want = dms_thin_meta_rule_bytes(max_data_bytes);
	bytes_t cap = align_down(device_bytes / 8, MIB);
	if (cap < DMS_THIN_META_MIN_BYTES)
		return -ERANGE;
	*reserve_bytes = want < cap ? want : cap;
	return 0;
}

bytes_t dms_thin_meta_active_for(bytes_t data_bytes, bytes_t reserve_bytes, bytes_t current_active_bytes)
{
	bytes_t want = dms_thin_meta_rule_bytes(data_bytes > UINT64_MAX / 4 ? UINT64_MAX : data_bytes * 4);
	if (want < current_active_bytes)
		want = current_active_bytes;
	return want > reserve_bytes ? reserve_bytes : want;
}

bytes_t dms_thin_meta_grow(bytes_t current_active_bytes, bytes_t reserve_bytes)
{
	bytes_t next = current_active_bytes > reserve_bytes / 2 ? reserve_bytes : 2 * current_active_bytes;
	return next < current_active_bytes ? current_active_bytes : next;
}

uint64_t dms_thin_low_water_blocks(bytes_t data_bytes, bytes_t low_bytes, double low_percent)
{
	uint64_t blocks = data_bytes / DMS_THIN_BLOCK_BYTES;
	double pct = low_percent > 0 && low_percent < 100 ? (double)data_bytes * low_percent / 100.0 : 0;
	bytes_t low = (double)low_bytes > pct ? low_bytes : (bytes_t)pct;
	uint64_t lwm = low / DMS_THIN_BLOCK_BYTES;
	if (blocks <= 1)
		return 1;
	if (lwm >= blocks)
		lwm = blocks - 1;
	return lwm ? lwm : 1;
}

int dms_thin_pool_params(unsigned meta_major, unsigned meta_minor, unsigned data_major, unsigned data_minor,
			 uint64_t low_water_blocks, char *out, size_t outlen)
{
	/* skip_block_zeroing: the only user of a new block is the filesystem on the
	 * one thin volume, which never reads what it has not written (and a fresh
	 * EBS volume reads zeros anyway). Discard passdown stays on (the default) so
	 * that freed blocks are unmapped and returned to the EBS free space.
	 * No error_if_no_space: an out-of-space pool queues I/O for the kernel's
	 * no_space_timeout (60 s) while the daemon provisions. */
	int n = snprintf(out, outlen, "%u:%u %u:%u %llu %llu 1 skip_block_zeroing", meta_major, meta_minor,
			 data_major, data_minor, (unsigned long long)(DMS_THIN_BLOCK_BYTES / SECTOR_BYTES),
			 (unsigned long long)low_water_blocks);
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

int dms_thin_volume_params(unsigned pool_major, unsigned pool_minor, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%u:%u %d", pool_major, pool_minor, DMS_THIN_DEV_ID);
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

static int parse_u64(const char *s, const char *end, uint64_t *v)
{
	uint64_t x = 0;
	if (s >= end)
		return -EINVAL;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9' || x > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	*v = x;
	return 0;
}

static int parse_ratio(const char *tok, size_t len, uint64_t *a, uint64_t *b)
{
	const char *slash = memchr(tok, '/', len);
	if (!slash)
		return -EINVAL;
	if (parse_u64(tok, slash, a) < 0 || parse_u64(slash + 1, tok + len, b) < 0 || *a > *b)
		return -EINVAL;
	return 0;
}

int dms_thin_parse_pool_status(const char *params, struct dms_thin_pool_status *st)
{
	const char *tok[12];
	size_t len[12], n = 0;
	memset(st, 0, sizeof(*st));
	if (!params)
		return -EINVAL;
	for (const char *p = params; *p;) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		if (n == 12)
			return -EINVAL;
		tok[n] = p;
		while (*p && *p != ' ')
			p++;
		len[n] = (size_t)(p - tok[n]);
		n++;
	}
#define IS(i, lit) (len[i] == strlen(lit) && !memcmp(tok[i], lit, len[i]))
	if (n == 1 && IS(0, "Fail")) {
		st->mode = DMS_THIN_FAIL;
		return 0;
	}
	if (n < 8)
		return -EINVAL;
	if (parse_u64(tok[0], tok[0] + len[0], &st->transaction_id) < 0 ||
	    parse_ratio(tok[1], len[1], &st->meta_used_blocks, &st->meta_total_blocks) < 0 ||
	    parse_ratio(tok[2], len[2], &st->data_used_blocks, &st->data_total_blocks) < 0)
		return -EINVAL;
	/* tok[3]: held metadata root or "-" */
	if (IS(4, "rw"))
		st->mode = DMS_THIN_RW;
	else if (IS(4, "ro"))
		st->mode = DMS_THIN_RO;
	else if (IS(4, "out_of_data_space"))
		st->mode = DMS_THIN_OUT_OF_DATA;
	else
		return -EINVAL;
	if (IS(5, "discard_passdown"))
		st->discard_passdown = true;
	else if (!IS(5, "no_discard_passdown") && !IS(5, "ignore_discard"))
		return -EINVAL;
	if (IS(6, "error_if_no_space"))
		st->error_if_no_space = true;
	else if (!IS(6, "queue_if_no_space"))
		return -EINVAL;
	if (IS(7, "needs_check"))
		st->needs_check = true;
	else if (!IS(7, "-"))
		return -EINVAL;
#undef IS
	return 0;
}

const char *dms_thin_mode_name(enum dms_thin_mode m)
{
	switch (m) {
	case DMS_THIN_RW: return "rw";
	case DMS_THIN_RO: return "ro";
	case DMS_THIN_OUT_OF_DATA: return "out_of_data_space";
	case DMS_THIN_FAIL: return "fail";
	}
	return "unknown";
}
