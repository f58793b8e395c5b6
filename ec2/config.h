/* Daemon configuration: /etc/dmscale/dmscale.json (jansson). Every key is
 * optional; defaults below. An unknown key or a wrong type/range is an error
 * that names the key. Environment (AWS conventions) overrides the file:
 *   AWS_REGION (else AWS_DEFAULT_REGION)  -> region
 *   AWS_ENDPOINT_URL_EC2 (else AWS_ENDPOINT_URL) -> ec2_endpoint
 *   AWS_EC2_METADATA_SERVICE_ENDPOINT     -> imds_endpoint
 *   AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY [+ AWS_SESSION_TOKEN] -> static credentials
 *
 * key                 type     default           meaning
 * pool                string   "scratch"         pool name (tag dmscale:pool)
 * mountpoint          string   "/var/lib/docker" filesystem watched with statvfs
 * poll_interval_ms    integer  1000              statvfs period (100..60000)
 * min_free_bytes      integer  10 GiB            provision when free bytes below this …
 * min_free_percent    number   5                 … or free below this % of the size
 * initial_volume_gib  integer  150               first volume of a pool
 * min_volume_gib      integer  25                smallest volume ever created
 * max_volume_gib      integer  1500              largest volume ever created (<= 16384)
 * max_volumes         integer  24                volumes in the pool at most
 * max_total_gib       integer  16384             pool size at most
 * max_attachments     integer  26                instance attachment slots usable (xvdba..xvdbz)
 * fill_horizon_s      integer  60                size a new volume for this long at the fill rate
 * growth_percent      integer  15                a new volume is at least this % of the pool
 * safety_factor       number   3                 provision when time-to-full < attach latency × this …
 * min_lead_s          integer  150               … or < this many seconds (a slow attach; 0 = none)
 *                                                (docs/COST.md: why these defaults)
 * volume_type         string   "gp3"             gp2 gp3 io1 io2 st1 sc1 standard
 * iops                integer  0                 0 = EC2 default
 * throughput_mibps    integer  0                 0 = EC2 default (gp3 only)
 * encrypted           boolean  false             (the account default may still encrypt)
 * kms_key_id          string   ""                requires encrypted
 * tags                object   {}                extra volume tags, string values
 * attach_timeout_s    integer  300               wait for available / attached / device
 * api_timeout_ms      integer  15000             one HTTP request
 * imds_endpoint       string   "http://169.254.169.254"
 * ec2_endpoint        string   ""                "" = https://ec2.<region>.amazonaws.com
 *                                                (both: plain http:// only to loopback or
 *                                                link-local, see http_endpoint_parse)
 * region              string   ""                "" = from IMDS placement/region
 * metrics_textfile    string   "/var/lib/prometheus/node-exporter/dmscale.prom"
 *                                                node_exporter textfile (Prometheus text format),
 *                                                rewritten atomically with the state file; absolute,
 *                                                ending in ".prom"; "" = none; skipped while its
 *                                                directory does not exist; one path per pool
 * instance_store      string   "auto"            init: auto = the first tier over the blank
 *                                                instance-store NVMe disks (striped); off = EBS only
 *                                                (the --instance-store option overrides it)
 * scratch_recreate    boolean  true              assemble: a pool whose instance storage came
 *                                                back blank is recreated empty at a new uuid; false:
 *                                                refused, naming the blank disks
 */
#ifndef DMSCALE_EC2_CONFIG_H
#define DMSCALE_EC2_CONFIG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DMS_CONFIG_PATH "/etc/dmscale/dmscale.json"
#define DMS_CONFIG_MAX_TAGS 40
#define DMS_CONFIG_TOKEN_MAX 4096
#define DMS_METRICS_TEXTFILE_DEFAULT "/var/lib/prometheus/node-exporter/dmscale.prom"

struct dms_config_tag {
	char key[128];
	char value[256];
};

struct dms_config {
	char pool[48];
	char mountpoint[256];
	uint32_t poll_interval_ms;
	uint64_t min_free_bytes;
	double min_free_percent;
	uint64_t initial_volume_gib;
	uint64_t min_volume_gib;
	uint64_t max_volume_gib;
	uint32_t max_volumes;
	uint64_t max_total_gib;
	uint32_t max_attachments;
	uint32_t fill_horizon_s;
	uint32_t growth_percent;
	double safety_factor;
	uint32_t min_lead_s;
	char volume_type[16];
	uint32_t iops;
	uint32_t throughput_mibps;
	bool encrypted;
	char kms_key_id[256];
	size_t n_tags;
	struct dms_config_tag tags[DMS_CONFIG_MAX_TAGS];
	uint32_t attach_timeout_s;
	uint32_t api_timeout_ms;
	char imds_endpoint[256];
	char ec2_endpoint[256];
	char region[32];
	char metrics_textfile[256];
	char instance_store[8];       /* "auto" | "off" */
	bool scratch_recreate;
	/* static credentials (environment only, never from the file) */
	bool has_static_creds;
	char access_key_id[128];
	char secret_access_key[128];
	char session_token[DMS_CONFIG_TOKEN_MAX];
};

void dms_config_defaults(struct dms_config *c);
/* Pure: apply a JSON document over *c. Returns 0 or -EINVAL with err set to a
 * message naming the key (e.g. "key \"iops\": expected an integer"). */
int dms_config_parse(const char *json, size_t len, struct dms_config *c, char *err, size_t errlen);
/* Pure: apply the AWS environment variables through getenv_fn (NULL => getenv). */
int dms_config_apply_env(struct dms_config *c, const char *(*getenv_fn)(const char *name),
			 char *err, size_t errlen);
/* Pure: cross-field checks of every setting but the endpoint URLs (min <=
 * initial <= max, kms needs encrypted, …): all the pool's settings need. */
int dms_config_validate_settings(const struct dms_config *c, char *err, size_t errlen);
/* Pure: dms_config_validate_settings, then the endpoint URLs (config_load.c,
 * by http_endpoint_parse: the daemon's binary only). */
int dms_config_validate(const struct dms_config *c, char *err, size_t errlen);
/* Adapter: defaults + file (path NULL => DMS_CONFIG_PATH; a missing default
 * file is fine, a missing explicit one is not) + env + validate. Errors logged. */
int dms_config_load(const char *path, struct dms_config *c);
/* Wipe the secrets held by the config. */
void dms_config_wipe_secrets(struct dms_config *c);

#endif
