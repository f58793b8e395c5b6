/* The seed's policy, modelled from its shell code. See seed_policy.h. */
#include "bench/sim/seed_policy.h"

#include <math.h>

unsigned seed_threshold_pct(unsigned n)
{
	if (n >= 4 && n <= 6)
		return 80;
	if (n > 6)
		return 90;
	return SEED_INITIAL_THRESHOLD_PCT;
}

uint64_t seed_new_size_gib(unsigned n)
{
	if (n >= 4 && n <= 6)
		return 300;     /* max >= 299 and min <= 299 with the defaults */
	if (n > 6 && n <= 10)
		return 1000;
	if (n > 10)
		return SEED_MAX_VOLUME_GIB;
	return SEED_MIN_VOLUME_GIB;   /* max >= 149 */
}

unsigned seed_df_pct(double used, double avail)
{
	/* df -BG prints ceil(bytes / GiB); use% is computed by df from the block counts, rounded up */
	double tot = used + avail;
	if (tot <= 0)
		return 100;
	return (unsigned)ceil(100.0 * used / tot);
}

uint64_t seed_decide(double total, double used, unsigned n)
{
	if (seed_df_pct(used, total - used) < seed_threshold_pct(n))
		return 0;
	if (n >= SEED_MAX_VOLUMES)
		return 0;
	if (ceil(total / (1024.0 * 1024 * 1024)) >= SEED_MAX_LOGICAL_GIB)
		return 0;
	return seed_new_size_gib(n);
}
