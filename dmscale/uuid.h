/* Random (version 4) uuids for new pools and members, from libuuid. */
#ifndef DMSCALE_UUID_H
#define DMSCALE_UUID_H
#include <stdint.h>

/* A new random uuid (RFC 4122 version 4, variant 1), never all zeros. */
void dms_uuid_generate(uint8_t out[16]);
#endif
