/* /proc/meminfo: how much page cache waits for or is under writeback (pure). */
#ifndef DMSCALE_MEMINFO_H
#define DMSCALE_MEMINFO_H
#include <stddef.h>
#include <stdint.h>

/* Dirty + Writeback of a /proc/meminfo text (len bytes, need not end in a
 * NUL), in bytes. 0, -EINVAL (a field missing or malformed) or -ERANGE. */
int dms_meminfo_dirty_bytes(const char *text, size_t len, uint64_t *bytes);
#endif
