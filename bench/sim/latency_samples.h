/* Measured attach latencies for the replay, in place of the model of
 * latency.h (bench/replay_check.py feeds it what the VM measured): one line
 * per volume, "attached_s grown_s", both in seconds after CreateVolume was
 * sent: when the daemon saw the attachment (ec2_provision_volume's wait
 * returned) and when the filesystem had grown. '#' lines are comments. The
 * replay's k-th provisioning uses sample k mod n. */
#ifndef DMSCALE_SIM_LATENCY_SAMPLES_H
#define DMSCALE_SIM_LATENCY_SAMPLES_H
#include <stddef.h>

struct latency_samples {
	size_t n;
	double *attached_s;
	double *grown_s;
};

/* Pure: 0, -EINVAL (a line that is not two non-negative numbers, or no
 * sample; a message names the line in err) or -ENOMEM. */
int latency_samples_parse(const char *text, struct latency_samples *s, char *err, size_t errlen);
/* Reads PATH and parses it: 0 or -errno (message in err). */
int latency_samples_load(const char *path, struct latency_samples *s, char *err, size_t errlen);
void latency_samples_free(struct latency_samples *s);

#endif
