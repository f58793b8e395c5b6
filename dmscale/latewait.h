/* When `assemble` stops waiting for members that have not arrived yet (pure). */
#ifndef DMSCALE_LATEWAIT_H
#define DMSCALE_LATEWAIT_H
#include <stddef.h>
#include <stdint.h>

enum dms_wait_verdict {
	DMS_WAIT_DONE,      /* every pool assembled: success */
	DMS_WAIT_AGAIN,     /* some pool is incomplete and there is time left: wait, rescan */
	DMS_WAIT_GIVE_UP,   /* a final error, or still incomplete when the time is up */
};

/* Poll period when no udev event comes (a missed event costs at most this). */
#define DMS_WAIT_POLL_MS 5000u

/* results[i]: the last assembly result of pool i (0; -ENODEV: a member named
 * by the labels is missing; -ENOENT: no member of it is visible right now (a
 * disk still being set up by udev at boot); any other -errno: final, waiting
 * does not help). Wait only while some pool is -ENODEV or -ENOENT, no pool
 * failed otherwise, and elapsed_ms < limit_ms. */
enum dms_wait_verdict dms_wait_verdict(const int *results, size_t n, uint64_t elapsed_ms, uint64_t limit_ms);

/* How long to block for the next udev event: the time left, at most
 * DMS_WAIT_POLL_MS; 0 when the time is up. */
uint64_t dms_wait_next_ms(uint64_t elapsed_ms, uint64_t limit_ms);
#endif
