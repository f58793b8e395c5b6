/* Seeded random numbers and the attach-latency model. See latency.h. */
#include "bench/sim/latency.h"

#include <math.h>

uint64_t sim_rng_next(struct sim_rng *r)
{
	uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);   /* splitmix64 */
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

double sim_rng_uniform(struct sim_rng *r)
{
	return (double)(sim_rng_next(r) >> 11) / 9007199254740992.0;
}

double sim_rng_lognormal(struct sim_rng *r, double median, double sigma)
{
	double u1 = sim_rng_uniform(r), u2 = sim_rng_uniform(r);
	if (u1 < 1e-300)
		u1 = 1e-300;
	double z = sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
	return median * exp(sigma * z);
}

void latency_draw(struct sim_rng *r, struct attach_latency *out)
{
	out->create_s = sim_rng_lognormal(r, 2.5, 0.6);
	out->attach_s = sim_rng_lognormal(r, 4.0, 0.6);
	if (sim_rng_uniform(r) < 0.02)
		out->attach_s += 30 + 60 * sim_rng_uniform(r);
	out->grow_s = sim_rng_lognormal(r, 1.5, 0.5);
}
