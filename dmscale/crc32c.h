#ifndef DMSCALE_CRC32C_H
#define DMSCALE_CRC32C_H
#include <stddef.h>
#include <stdint.h>
/* CRC-32C (Castagnoli), as used by iSCSI/ext4/btrfs: crc32c(0, "123456789", 9) == 0xE3069283. */
uint32_t dms_crc32c(uint32_t crc, const void *buf, size_t len);
#endif
