/* CRC-32C (Castagnoli), software, table driven (one 256-entry table, built
 * at compile time). Reflected polynomial 0x82F63B78, initial value and final
 * XOR 0xFFFFFFFF, zlib-style chaining:
 *   dms_crc32c(dms_crc32c(0, a, la), b, lb) == dms_crc32c(0, a||b, la+lb). */
#include "dmscale/crc32c.h"

#define P 0x82F63B78u
#define S1(c) (((c) & 1u) ? (((c) >> 1) ^ P) : ((c) >> 1))
#define S8(c) S1(S1(S1(S1(S1(S1(S1(S1(c))))))))
#define T4(i) S8((uint32_t)(i)), S8((uint32_t)(i) + 1), S8((uint32_t)(i) + 2), S8((uint32_t)(i) + 3)
#define T16(i) T4(i), T4((i) + 4), T4((i) + 8), T4((i) + 12)
#define T64(i) T16(i), T16((i) + 16), T16((i) + 32), T16((i) + 48)

static const uint32_t crc32c_table[256] = { T64(0), T64(64), T64(128), T64(192) };

uint32_t dms_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	crc = ~crc;
	while (len--)
		crc = crc32c_table[(crc ^ *p++) & 0xFFu] ^ (crc >> 8);
	return ~crc;
}
