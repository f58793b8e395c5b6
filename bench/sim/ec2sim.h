/* An in-process EC2 for the fleet simulation: one account, its volumes and
 * the request throttling AWS documents (token buckets per API action, at the
 * account level; https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html):
 *   DescribeVolumes, DescribeInstances (non-mutating, filtered/by id): 100 tokens, 20/s
 *   AttachVolume, DetachVolume, ModifyInstanceAttribute (mutating):    50 tokens, 5/s
 *   CreateVolume, DeleteVolume (their own buckets):                    100 tokens, 5/s
 * A throttled request is answered HTTP 503 RequestLimitExceeded and not
 * carried out. Volumes move creating -> available -> (attaching) -> in-use
 * on the times the attach-latency model draws (latency.h). CreateVolume
 * honours ClientToken: the same token from the same instance returns the same
 * volume. With probability lost_create, a CreateVolume is carried out but its
 * answer is lost (the transport reports a timeout), which is what ClientToken
 * is for. Answers are the EC2 Query API's XML, parsed by the product's ec2/xml.c. */
#ifndef DMSCALE_SIM_EC2SIM_H
#define DMSCALE_SIM_EC2SIM_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/sim/latency.h"
#include "ec2/http.h"

enum sim_api { SIM_CREATE, SIM_DESCRIBE_VOLUMES, SIM_DESCRIBE_INSTANCES, SIM_ATTACH, SIM_MODIFY, SIM_DETACH,
	       SIM_DELETE, SIM_OTHER, SIM_N_API };
const char *sim_api_name(enum sim_api a);

struct sim_bucket {
	double cap, rate, tokens, t;
};

struct sim_volume {
	char id[24];
	char token[80];
	int owner;              /* instance index that created it */
	uint64_t size_gib;
	double t_available;
	int attached_to;        /* -1: none */
	char device[32];
	double t_attached;      /* attachment "attached" from then on */
	bool dot;
	bool deleted;
	double t_detached;      /* detach asked: available from then on */
	bool member;            /* grown into its pool (set by the fleet) */
};

struct ec2sim {
	struct sim_bucket bucket[SIM_N_API];
	struct sim_volume *vols;
	size_t n_vols, cap_vols;
	struct sim_rng rng;
	double lost_create;     /* probability that a carried-out CreateVolume's answer is lost */
	unsigned long calls[SIM_N_API], throttled[SIM_N_API], lost;
};

void ec2sim_init(struct ec2sim *s, uint64_t seed, double lost_create);
void ec2sim_free(struct ec2sim *s);
/* Handle one request of instance `inst` (instance id instance_id) at time
 * now: 0 and *resp (malloc'd body), or -ETIMEDOUT (answer lost) / -ENOMEM. */
int ec2sim_handle(struct ec2sim *s, int inst, const char *instance_id, double now, const struct http_request *req,
		  struct http_response *resp);
struct sim_volume *ec2sim_volume(struct ec2sim *s, const char *id);

#endif
