/* Units are explicit: every quantity says what it counts. */
#ifndef DMSCALE_UNITS_H
#define DMSCALE_UNITS_H
#include <stdint.h>

#define SECTOR_BYTES   512ULL
#define KIB            1024ULL
#define MIB            (1024ULL * KIB)
#define GIB            (1024ULL * MIB)
#define TIB            (1024ULL * GIB)

typedef uint64_t bytes_t;
typedef uint64_t sectors_t;

static inline sectors_t bytes_to_sectors(bytes_t b) { return b / SECTOR_BYTES; }
static inline bytes_t sectors_to_bytes(sectors_t s) { return s * SECTOR_BYTES; }
static inline uint64_t align_down(uint64_t v, uint64_t a) { return v - v % a; }
static inline uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

#endif
