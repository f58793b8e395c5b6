/* CRC-32C known vectors (RFC 3720 B.4 iSCSI, and the usual check value). */
#include "tests/unit/unit.h"

#include <string.h>

#include "dmscale/crc32c.h"

/* Bitwise reference implementation, independent of the tables: the shift
 * register from c through p. */
static uint32_t ref_reg(uint32_t c, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
	}
	return c;
}

static uint32_t ref_crc32c(const uint8_t *p, size_t len)
{
	return ~ref_reg(0xFFFFFFFFu, p, len);
}

static void test_check_value(void **state)
{
	(void)state;
	assert_int_equal(dms_crc32c(0, "123456789", 9), 0xE3069283u);
}

static void test_empty(void **state)
{
	(void)state;
	assert_int_equal(dms_crc32c(0, "", 0), 0);
	assert_int_equal(dms_crc32c(0, NULL, 0), 0);
	/* an empty update leaves any running value unchanged */
	assert_int_equal(dms_crc32c(0x12345678u, "", 0), 0x12345678u);
}

static void test_iscsi_vectors(void **state)
{
	(void)state;
	uint8_t b[48];

	memset(b, 0, 32);
	assert_int_equal(dms_crc32c(0, b, 32), 0x8A9136AAu);
	memset(b, 0xFF, 32);
	assert_int_equal(dms_crc32c(0, b, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)i;
	assert_int_equal(dms_crc32c(0, b, 32), 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)(31 - i);
	assert_int_equal(dms_crc32c(0, b, 32), 0x113FDB5Cu);

	/* iSCSI SCSI Read (10) command PDU */
	static const uint8_t pdu[48] = {
		0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
		0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	assert_int_equal(dms_crc32c(0, pdu, sizeof(pdu)), 0xD9963A56u);
}

static void test_chaining_and_reference(void **state)
{
	(void)state;
	uint8_t b[1000];
	uint32_t x = 12345;
	for (size_t i = 0; i < sizeof(b); i++) {
		x = x * 1103515245u + 12345u;
		b[i] = (uint8_t)(x >> 16);
	}
	for (size_t len = 0; len <= sizeof(b); len += 37) {
		uint32_t whole = dms_crc32c(0, b, len);
		assert_int_equal(whole, ref_crc32c(b, len));
		for (size_t cut = 0; cut <= len; cut += 13)
			assert_int_equal(dms_crc32c(dms_crc32c(0, b, cut), b + cut, len - cut), whole);
	}
	/* every table entry: each single byte value hits a different index */
	for (unsigned v = 0; v < 256; v++) {
		uint8_t one = (uint8_t)v;
		assert_int_equal(dms_crc32c(0, &one, 1), ref_crc32c(&one, 1));
	}
	/* every entry of the eight slicing tables: one byte value at each
	 * position of an 8-byte step, the rest zero */
	for (unsigned pos = 0; pos < 8; pos++)
		for (unsigned v = 0; v < 256; v++) {
			uint8_t eight[8] = { 0 };
			eight[pos] = (uint8_t)v;
			assert_int_equal(dms_crc32c(0, eight, 8), ref_crc32c(eight, 8));
			assert_int_equal(dms_crc32c(0x5A5A5A5Au, eight, 8), ~ref_reg(~0x5A5A5A5Au, eight, 8));
		}
	/* single bit changes always change the crc */
	uint32_t base = dms_crc32c(0, b, 64);
	for (size_t i = 0; i < 64 * 8; i++) {
		b[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_int_not_equal(dms_crc32c(0, b, 64), base);
		b[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_value),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_iscsi_vectors),
		cmocka_unit_test(test_chaining_and_reference),
	};
	return cmocka_run_group_tests_name("crc32c", tests, NULL, NULL);
}
