/* When `assemble` stops waiting for members that have not arrived yet (pure). */
#include "dmscale/latewait.h"

#include <errno.h>

enum dms_wait_verdict dms_wait_verdict(const int *results, size_t n, uint64_t elapsed_ms, uint64_t limit_ms)
{
	size_t incomplete = 0;
	for (size_t i = 0; i < n; i++) {
		if (results[i] == -ENODEV || results[i] == -ENOENT)
			incomplete++;
		else if (results[i] < 0)
			return DMS_WAIT_GIVE_UP;
	}
	if (incomplete == 0)
		return DMS_WAIT_DONE;
	return elapsed_ms < limit_ms ? DMS_WAIT_AGAIN : DMS_WAIT_GIVE_UP;
}

uint64_t dms_wait_next_ms(uint64_t elapsed_ms, uint64_t limit_ms)
{
	if (elapsed_ms >= limit_ms)
		return 0;
	uint64_t left = limit_ms - elapsed_ms;
	return left < DMS_WAIT_POLL_MS ? left : DMS_WAIT_POLL_MS;
}
