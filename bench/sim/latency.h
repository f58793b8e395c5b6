/* The attach-latency model of the simulations (docs/COST.md), drawn from a
 * seeded generator so that every run is the same:
 *   CreateVolume accepted -> volume "available":   lognormal, median 2.5 s, sigma 0.6
 *   AttachVolume accepted -> attachment "attached": lognormal, median 4 s, sigma 0.6,
 *                            and with probability 2 % a stuck attach: + uniform 30..90 s
 *   attached -> filesystem grown (udev, label, table reload, resize): lognormal, median 1.5 s, sigma 0.5
 * EBS publishes no latency figures; these are assumptions (typical gp3
 * behaviour with a heavy tail), the same for every policy compared. */
#ifndef DMSCALE_SIM_LATENCY_H
#define DMSCALE_SIM_LATENCY_H
#include <stdint.h>

struct sim_rng {
	uint64_t s;
};
uint64_t sim_rng_next(struct sim_rng *r);
double sim_rng_uniform(struct sim_rng *r);             /* [0, 1) */
double sim_rng_lognormal(struct sim_rng *r, double median, double sigma);

struct attach_latency {
	double create_s, attach_s, grow_s;
};
void latency_draw(struct sim_rng *r, struct attach_latency *out);

#endif
