/* EC2 client. See ec2.h. */
#include "ec2/ec2.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "dmscale/log.h"
#include "ec2/config.h"
#include "ec2/sigv4.h"

/* ---- pure helpers ---- */
static uint64_t rng_next(uint64_t *s)
{
	/* splitmix64 */
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

unsigned ec2_backoff_ms(unsigned attempt, unsigned base_ms, unsigned cap_ms, uint64_t *rng)
{
	uint64_t ceil_ms = base_ms;
	for (unsigned i = 0; i < attempt && ceil_ms < cap_ms; i++)
		ceil_ms *= 2;
	if (ceil_ms > cap_ms)
		ceil_ms = cap_ms;
	return (unsigned)(rng_next(rng) % (ceil_ms + 1));
}

static const char *strip_dev(const char *s)
{
	if (!strncmp(s, "/dev/", 5))
		s += 5;
	if (!strncmp(s, "xvd", 3))
		return s + 3;
	if (!strncmp(s, "sd", 2))
		return s + 2;
	return s;
}

int ec2_pick_device(const char *const *in_use, size_t n, char *out, size_t outlen)
{
	for (char c = 'a'; c <= 'z'; c++) {
		char cand[16];
		snprintf(cand, sizeof(cand), "b%c", c);
		bool used = false;
		for (size_t i = 0; i < n && !used; i++)
			used = in_use[i] && !strcmp(strip_dev(in_use[i]), cand);
		if (!used) {
			int w = snprintf(out, outlen, EC2_DEVICE_PREFIX "%c", c);
			return w < 0 || (size_t)w >= outlen ? -ENOSPC : 0;
		}
	}
	return -ENOSPC;
}

void ec2_make_client_token(uint64_t *rng, char out[EC2_CLIENT_TOKEN_MAX])
{
	uint64_t a = rng_next(rng), b = rng_next(rng);
	snprintf(out, EC2_CLIENT_TOKEN_MAX, "dmscale-%016llx%016llx", (unsigned long long)a,
		 (unsigned long long)b);
}

int ec2_error_errno(const struct ec2_error *e)
{
	switch (e->cls) {
	case EC2_ERR_NONE: return 0;
	case EC2_ERR_THROTTLE: return -EBUSY;
	case EC2_ERR_RETRYABLE: return -EAGAIN;
	case EC2_ERR_CREDENTIALS: return -EKEYEXPIRED;
	case EC2_ERR_NOT_FOUND: return -ENOENT;
	case EC2_ERR_LIMIT: return -EDQUOT;
	case EC2_ERR_FATAL:
		if (!strcmp(e->code, "UnauthorizedOperation") || !strcmp(e->code, "AuthFailure") ||
		    !strcmp(e->code, "SignatureDoesNotMatch") || !strcmp(e->code, "OptInRequired") ||
		    e->http_status == 401 || e->http_status == 403)
			return -EACCES;
		return -EINVAL;
	}
	return -EIO;
}

const char *ec2_stage_name(enum ec2_stage s)
{
	switch (s) {
	case EC2_STAGE_CREATING: return "creating";
	case EC2_STAGE_CREATED: return "created";
	case EC2_STAGE_ATTACHING: return "attaching";
	case EC2_STAGE_ATTACHED: return "attached";
	case EC2_STAGE_DELETED: return "deleted";
	case EC2_STAGE_CLEANUP_FAILED: return "cleanup-failed";
	case EC2_STAGE_CLEANUP_CHECK: return "cleanup-check";
	}
	return "unknown";
}

/* ---- defaults for injectables ---- */
static void real_sleep_ms(void *ud, unsigned ms)
{
	(void)ud;
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static double real_mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void csleep(struct ec2_client *c, unsigned ms) { c->sleep_ms(c->sleep_ud, ms); }

/* ---- client ---- */
int ec2_client_init(struct ec2_client *c, const struct dms_config *cfg)
{
	memset(c, 0, sizeof(*c));
	c->max_attempts = 8;
	c->backoff_base_ms = 200;
	c->backoff_cap_ms = 20000;
	c->retry_budget = 100;
	c->sleep_ms = real_sleep_ms;
	c->mono_s = real_mono_s;
	if (getrandom(&c->rng, sizeof(c->rng), 0) != sizeof(c->rng))
		c->rng = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)c;

	int r = http_client_init(&c->http, cfg->api_timeout_ms);
	if (r < 0)
		return log_error_errno(r, "EC2: cannot initialise libcurl: %m");
	r = imds_client_init(&c->imds, cfg->imds_endpoint, cfg->api_timeout_ms);
	if (r < 0)
		goto fail;
	c->imds_ready = true;

	if ((r = imds_get_instance_id(&c->imds, c->instance_id, sizeof(c->instance_id))) < 0 ||
	    (r = imds_get_availability_zone(&c->imds, c->availability_zone, sizeof(c->availability_zone))) < 0)
		goto fail;
	if (!ec2_valid_instance_id(c->instance_id)) {
		r = log_error_errno(EBADMSG, "IMDS: instance id \"%s\" is not valid", c->instance_id);
		goto fail;
	}
	if (cfg->region[0])
		snprintf(c->region, sizeof(c->region), "%s", cfg->region);
	else if ((r = imds_get_region(&c->imds, c->region, sizeof(c->region))) < 0)
		goto fail;

	if (cfg->ec2_endpoint[0])
		snprintf(c->endpoint, sizeof(c->endpoint), "%s", cfg->ec2_endpoint);
	else
		snprintf(c->endpoint, sizeof(c->endpoint), "https://ec2.%s.amazonaws.com", c->region);
	size_t el = strlen(c->endpoint);
	while (el > 8 && c->endpoint[el - 1] == '/')
		c->endpoint[--el] = '\0';
	if ((r = http_url_host(c->endpoint, c->host, sizeof(c->host), NULL)) < 0) {
		r = log_error_errno(EINVAL, "EC2 endpoint \"%s\" is not an http(s) URL", c->endpoint);
		goto fail;
	}

	if (cfg->has_static_creds) {
		c->static_creds = true;
		snprintf(c->creds.access_key_id, sizeof(c->creds.access_key_id), "%s", cfg->access_key_id);
		snprintf(c->creds.secret_access_key, sizeof(c->creds.secret_access_key), "%s", cfg->secret_access_key);
		snprintf(c->creds.session_token, sizeof(c->creds.session_token), "%s", cfg->session_token);
	} else if ((r = imds_get_role_credentials(&c->imds, &c->creds)) < 0) {
		goto fail;
	}
	log_info("EC2: instance %s in %s (%s), endpoint %s, %s credentials", c->instance_id,
		 c->availability_zone, c->region, c->endpoint, c->static_creds ? "static" : "instance role");
	return 0;
fail:
	ec2_client_free(c);
	return r;
}

void ec2_client_free(struct ec2_client *c)
{
	http_client_free(&c->http);
	if (c->imds_ready)
		imds_client_free(&c->imds);
	c->imds_ready = false;
	aws_credentials_wipe(&c->creds);
}

static int refresh_creds(struct ec2_client *c, bool force)
{
	if (c->static_creds)
		return force ? -EKEYEXPIRED : 0;
	if (!force && !aws_credentials_need_refresh(&c->creds, time(NULL)))
		return 0;
	struct aws_credentials n;
	int r = imds_get_role_credentials(&c->imds, &n);
	if (r < 0) {
		explicit_bzero(&n, sizeof(n));
		/* keep using the old ones while they are still valid */
		return c->creds.expiration > time(NULL) && !force ? 0 : r;
	}
	c->creds = n;
	explicit_bzero(&n, sizeof(n));
	return 0;
}

static void action_of(const struct ec2_form *f, char *out, size_t len)
{
	const char *a = f->buf && !strncmp(f->buf, "Action=", 7) ? f->buf + 7 : "?";
	size_t n = strcspn(a, "&");
	snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), a);
}

int ec2_call(struct ec2_client *c, const struct ec2_form *f, struct http_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	if (!f || !f->buf || f->err)
		return -EINVAL;
	char action[48];
	action_of(f, action, sizeof(action));
	bool creds_refreshed = false;
	int r = 0;
	for (unsigned attempt = 0;; attempt++) {
		if ((r = refresh_creds(c, false)) < 0)
			return r;
		struct sigv4_creds sc = {c->creds.access_key_id, c->creds.secret_access_key,
					 c->creds.session_token[0] ? c->creds.session_token : NULL};
		struct sigv4_signed_headers sh;
		r = sigv4_sign_form_post(&sc, c->region, "ec2", c->host, f->buf, f->len, time(NULL), &sh);
		if (r < 0)
			return log_error_errno(r, "EC2 %s: cannot sign the request: %m", action);
		struct http_request req = {
			.method = "POST", .url = c->endpoint, .headers = (const char *const *)sh.lines,
			.n_headers = sh.n, .body = f->buf, .body_len = f->len,
		};
		c->api_calls++;
		r = http_perform(&c->http, &req, resp);
		sigv4_signed_headers_free(&sh);

		struct ec2_error *e = &c->last_error;
		if (r < 0) {
			memset(e, 0, sizeof(*e));
			snprintf(e->code, sizeof(e->code), "transport");
			snprintf(e->message, sizeof(e->message), "%s", strerror(-r));
			e->cls = r == -EFBIG || r == -EPROTO ? EC2_ERR_FATAL : EC2_ERR_RETRYABLE;
		} else if (resp->status >= 200 && resp->status < 300) {
			if (c->retry_budget < 100)
				c->retry_budget++;
			return 0;
		} else {
			(void)ec2_xml_parse_error(resp->body, resp->len, (int)resp->status, e);
			http_response_free(resp);
		}

		if (e->cls == EC2_ERR_CREDENTIALS && !creds_refreshed && !c->static_creds) {
			creds_refreshed = true;
			log_warning("EC2 %s: %s, refreshing credentials", action, e->code);
			if (refresh_creds(c, true) == 0)
				continue;
		}
		bool retry = e->cls == EC2_ERR_THROTTLE || e->cls == EC2_ERR_RETRYABLE;
		unsigned cost = r == -ETIMEDOUT ? 10 : 5;
		if (!retry || attempt + 1 >= c->max_attempts || c->retry_budget < cost) {
			int err = r < 0 ? r : ec2_error_errno(e);
			if (retry && r == 0 && e->cls == EC2_ERR_THROTTLE)
				err = -EBUSY;
			return log_internal(e->cls == EC2_ERR_NOT_FOUND ? LOG_LVL_DEBUG : LOG_LVL_ERR, err,
					    "EC2 %s failed after %u attempt(s): %s%s%s (HTTP %d, %s, request %s): %m",
					    action, attempt + 1, e->code, e->message[0] ? ": " : "", e->message,
					    e->http_status, ec2_err_class_name(e->cls),
					    e->request_id[0] ? e->request_id : "-");
		}
		c->retry_budget -= cost;
		c->retries++;
		if (e->cls == EC2_ERR_THROTTLE)
			c->throttled++;
		unsigned ms = ec2_backoff_ms(attempt, c->backoff_base_ms, c->backoff_cap_ms, &c->rng);
		log_debug("EC2 %s: %s (%s), retry %u in %u ms", action, e->code, ec2_err_class_name(e->cls),
			  attempt + 1, ms);
		csleep(c, ms);
	}
}

int ec2_create_volume(struct ec2_client *c, const struct ec2_create_volume_req *req, struct ec2_volume *out)
{
	struct ec2_form f;
	int r = ec2_query_create_volume(req, &f);
	if (r < 0)
		return log_error_errno(r, "EC2 CreateVolume: invalid request: %m");
	struct http_response resp;
	r = ec2_call(c, &f, &resp);
	ec2_form_free(&f);
	if (r < 0)
		return r;
	r = ec2_xml_parse_create_volume(resp.body, resp.len, out);
	http_response_free(&resp);
	if (r < 0 || !ec2_valid_volume_id(out->volume_id))
		return log_error_errno(EBADMSG, "EC2 CreateVolume: malformed response");
	return 0;
}

int ec2_describe_volume(struct ec2_client *c, const char *volume_id, struct ec2_volume *out)
{
	struct ec2_form f;
	const char *ids[] = {volume_id};
	int r = ec2_query_describe_volumes(ids, 1, &f);
	if (r < 0)
		return r;
	struct http_response resp;
	r = ec2_call(c, &f, &resp);
	ec2_form_free(&f);
	if (r < 0)
		return r;
	size_t n = 0;
	r = ec2_xml_parse_describe_volumes(resp.body, resp.len, out, 1, &n, NULL, NULL, 0);
	http_response_free(&resp);
	if (r < 0)
		return log_error_errno(EBADMSG, "EC2 DescribeVolumes %s: malformed response", volume_id);
	if (n != 1 || strcmp(out->volume_id, volume_id))
		return -ENOENT;
	return 0;
}

static const struct ec2_attachment *my_attachment(const struct ec2_client *c, const struct ec2_volume *v)
{
	for (size_t i = 0; i < v->n_attachments; i++)
		if (!strcmp(v->attachments[i].instance_id, c->instance_id) || !v->attachments[i].instance_id[0])
			return &v->attachments[i];
	return NULL;
}

int ec2_wait_volume(struct ec2_client *c, const char *volume_id, const char *want_state,
		    const char *want_attach, unsigned timeout_s, struct ec2_volume *out)
{
	double deadline = c->mono_s() + timeout_s;
	unsigned delay_ms = 250;
	for (;;) {
		int r = ec2_describe_volume(c, volume_id, out);
		/* right after CreateVolume the id may not be visible yet */
		if (r < 0 && r != -ENOENT)
			return r;
		if (r == 0) {
			const struct ec2_attachment *a = my_attachment(c, out);
			if (!strcmp(out->state, want_state) &&
			    (!want_attach || (a && !strcmp(a->state, want_attach))))
				return 0;
			if (!strcmp(out->state, "error") || !strcmp(out->state, "deleted") ||
			    !strcmp(out->state, "deleting"))
				return log_error_errno(EIO, "EC2 volume %s is in state %s", volume_id, out->state);
		}
		if (c->mono_s() + delay_ms / 1000.0 > deadline)
			return log_error_errno(ETIMEDOUT, "EC2 volume %s: not %s%s%s after %u s (state %s)",
					       volume_id, want_state, want_attach ? "/" : "",
					       want_attach ? want_attach : "", timeout_s, r == 0 ? out->state : "unknown");
		csleep(c, delay_ms);
		delay_ms = delay_ms * 3 / 2 > 2000 ? 2000 : delay_ms * 3 / 2;
	}
}

static int call_simple(struct ec2_client *c, struct ec2_form *f, int build_r)
{
	if (build_r < 0)
		return build_r;
	struct http_response resp;
	int r = ec2_call(c, f, &resp);
	ec2_form_free(f);
	if (r < 0)
		return r;
	http_response_free(&resp);
	return 0;
}

int ec2_attach_volume(struct ec2_client *c, const char *volume_id, const char *device)
{
	struct ec2_form f;
	int b = ec2_query_attach_volume(volume_id, c->instance_id, device, &f);
	return call_simple(c, &f, b);
}

int ec2_detach_volume(struct ec2_client *c, const char *volume_id, bool force)
{
	struct ec2_form f;
	int b = ec2_query_detach_volume(volume_id, c->instance_id, force, &f);
	return call_simple(c, &f, b);
}

int ec2_delete_volume(struct ec2_client *c, const char *volume_id)
{
	struct ec2_form f;
	int b = ec2_query_delete_volume(volume_id, &f);
	return call_simple(c, &f, b);
}

int ec2_list_block_devices(struct ec2_client *c, struct ec2_bdm *out, size_t max, size_t *n)
{
	struct ec2_form f;
	*n = 0;
	int r = ec2_query_describe_instances(c->instance_id, &f);
	if (r < 0)
		return r;
	struct http_response resp;
	r = ec2_call(c, &f, &resp);
	ec2_form_free(&f);
	if (r < 0)
		return r;
	r = ec2_xml_parse_block_device_mappings(resp.body, resp.len, out, max, n);
	http_response_free(&resp);
	if (r < 0)
		return log_error_errno(r, "EC2 DescribeInstances %s: cannot read block device mappings: %m",
				       c->instance_id);
	return 0;
}

#define MAX_BDM 64

int ec2_set_delete_on_termination(struct ec2_client *c, const char *volume_id, const char *device)
{
	struct ec2_form f;
	int r = call_simple(c, &f, ec2_query_set_delete_on_termination(c->instance_id, device, &f));
	if (r < 0)
		return r;
	/* verify: DescribeInstances is eventually consistent, poll a few times */
	for (unsigned i = 0; i < 6; i++) {
		struct ec2_bdm b[MAX_BDM];
		size_t n;
		r = ec2_list_block_devices(c, b, MAX_BDM, &n);
		if (r < 0)
			return r;
		for (size_t k = 0; k < n; k++)
			if (!strcmp(b[k].device_name, device) && !strcmp(b[k].volume_id, volume_id) &&
			    b[k].delete_on_termination)
				return 0;
		csleep(c, ec2_backoff_ms(i, 250, 4000, &c->rng) + 100);
	}
	return log_error_errno(EIO, "EC2: DeleteOnTermination for %s on %s did not take", volume_id, device);
}

int ec2_cleanup_volume(struct ec2_client *c, const char *volume_id, unsigned timeout_s)
{
	struct ec2_volume v;
	int r = ec2_describe_volume(c, volume_id, &v);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (!strcmp(v.state, "deleting") || !strcmp(v.state, "deleted"))
		return 0;
	if (v.n_attachments || !strcmp(v.state, "in-use")) {
		r = ec2_detach_volume(c, volume_id, false);
		if (r < 0 && r != -ENOENT && r != -EINVAL)
			return r;
		r = ec2_wait_volume(c, volume_id, "available", NULL, timeout_s, &v);
		if (r == -ETIMEDOUT) {
			log_warning("EC2: volume %s still attached, forcing the detach", volume_id);
			(void)ec2_detach_volume(c, volume_id, true);
			r = ec2_wait_volume(c, volume_id, "available", NULL, timeout_s, &v);
		}
		if (r < 0)
			return r;
	} else if (!strcmp(v.state, "creating")) {
		r = ec2_wait_volume(c, volume_id, "available", NULL, timeout_s, &v);
		if (r < 0 && r != -EIO)
			return r;
	}
	r = ec2_delete_volume(c, volume_id);
	if (r == -ENOENT)
		r = 0;
	if (r == 0)
		log_info("EC2: deleted volume %s", volume_id);
	return r;
}

int ec2_find_pool_volumes(struct ec2_client *c, const char *pool, struct ec2_volume *out,
			  size_t max, size_t *n)
{
	char token[1024] = "";
	*n = 0;
	for (unsigned page = 0; page < 100; page++) {
		struct ec2_form f;
		int r = ec2_query_describe_volumes_by_tag(EC2_TAG_POOL, pool, token, 100, &f);
		if (r < 0)
			return r;
		struct http_response resp;
		r = ec2_call(c, &f, &resp);
		ec2_form_free(&f);
		if (r < 0)
			return r;
		size_t got = 0, total = 0;
		r = ec2_xml_parse_describe_volumes(resp.body, resp.len, out + *n, max - *n, &got, &total,
						   token, sizeof(token));
		http_response_free(&resp);
		if (r < 0)
			return log_error_errno(r, "EC2 DescribeVolumes (pool %s): malformed response", pool);
		*n += got;
		if (got < total)
			return -ENOSPC;
		if (!token[0])
			return 0;
	}
	return -ELOOP;
}

static int stage(struct ec2_client *c, enum ec2_stage s, const char *vol, const char *tok, const char *dev)
{
	if (!c->on_stage)
		return 0;
	return c->on_stage(c->stage_ud, s, vol, tok, dev);
}

static int attach_free_device(struct ec2_client *c, const char *vol, char *dev, size_t devlen)
{
	const char *tried[4];
	size_t ntried = 0;
	char tried_buf[4][EC2_ID_MAX];
	for (;;) {
		struct ec2_bdm b[MAX_BDM];
		size_t n;
		int r = ec2_list_block_devices(c, b, MAX_BDM, &n);
		if (r < 0)
			return r;
		const char *used[MAX_BDM + 4];
		size_t nu = 0;
		for (size_t i = 0; i < n; i++)
			used[nu++] = b[i].device_name;
		for (size_t i = 0; i < ntried; i++)
			used[nu++] = tried[i];
		if ((r = ec2_pick_device(used, nu, dev, devlen)) < 0)
			return log_error_errno(r, "EC2: no free device name in " EC2_DEVICE_PREFIX "a-z on %s",
					       c->instance_id);
		r = ec2_attach_volume(c, vol, dev);
		/* someone else took the name in the meantime: try the next one */
		if (r == -EINVAL && strstr(c->last_error.message, "in use") && ntried < 4) {
			snprintf(tried_buf[ntried], EC2_ID_MAX, "%s", dev);
			tried[ntried] = tried_buf[ntried];
			ntried++;
			continue;
		}
		return r;
	}
}

int ec2_provision_volume(struct ec2_client *c, const struct dms_config *cfg, uint64_t size_gib,
			 char volume_id_out[EC2_ID_MAX])
{
	volume_id_out[0] = '\0';
	struct ec2_tag tags[DMS_CONFIG_MAX_TAGS + 2];
	size_t nt = 0;
	tags[nt++] = (struct ec2_tag){EC2_TAG_POOL, cfg->pool};
	tags[nt++] = (struct ec2_tag){EC2_TAG_INSTANCE, c->instance_id};
	for (size_t i = 0; i < cfg->n_tags; i++)
		tags[nt++] = (struct ec2_tag){cfg->tags[i].key, cfg->tags[i].value};
	char token[EC2_CLIENT_TOKEN_MAX];
	ec2_make_client_token(&c->rng, token);
	struct ec2_create_volume_req req = {
		.availability_zone = c->availability_zone, .size_gib = size_gib,
		.volume_type = cfg->volume_type, .iops = cfg->iops, .throughput_mibps = cfg->throughput_mibps,
		.encrypted = cfg->encrypted, .kms_key_id = cfg->kms_key_id, .client_token = token,
		.tags = tags, .n_tags = nt,
	};
	int r = stage(c, EC2_STAGE_CREATING, NULL, token, NULL);
	if (r < 0)
		return r;
	double t0 = c->mono_s();
	struct ec2_volume v;
	r = ec2_create_volume(c, &req, &v);
	if (r < 0)
		return r;
	char vol[EC2_ID_MAX];
	snprintf(vol, sizeof(vol), "%s", v.volume_id);
	log_info("EC2: created volume %s (%llu GiB %s) for pool %s", vol, (unsigned long long)size_gib,
		 cfg->volume_type, cfg->pool);
	unsigned timeout = cfg->attach_timeout_s;
	char dev[EC2_ID_MAX] = "";
	const char *step = "wait for available";
	if ((r = ec2_wait_volume(c, vol, "available", NULL, timeout, &v)) < 0)
		goto cleanup;
	step = "record pending";
	if ((r = stage(c, EC2_STAGE_CREATED, vol, token, NULL)) < 0)
		goto cleanup;
	step = "attach";
	if ((r = attach_free_device(c, vol, dev, sizeof(dev))) < 0)
		goto cleanup;
	if ((r = stage(c, EC2_STAGE_ATTACHING, vol, token, dev)) < 0)
		goto cleanup;
	step = "wait for attached";
	if ((r = ec2_wait_volume(c, vol, "in-use", "attached", timeout, &v)) < 0)
		goto cleanup;
	c->last_attach_latency_s = c->mono_s() - t0;
	step = "DeleteOnTermination";
	if ((r = ec2_set_delete_on_termination(c, vol, dev)) < 0)
		goto cleanup;
	snprintf(c->last_device, sizeof(c->last_device), "%s", dev);
	snprintf(volume_id_out, EC2_ID_MAX, "%s", vol);
	log_info("EC2: volume %s attached as %s in %.1f s, DeleteOnTermination set", vol, dev,
		 c->last_attach_latency_s);
	(void)stage(c, EC2_STAGE_ATTACHED, vol, token, dev);
	return 0;

cleanup:
	/* The device can appear (and be appended by udev) while EC2 still says
	 * "attaching": never delete a volume that joined the pool. */
	if (stage(c, EC2_STAGE_CLEANUP_CHECK, vol, token, dev[0] ? dev : NULL) == 1) {
		log_error("EC2: provisioning volume %s failed at step \"%s\" (%s), but it already joined the "
			  "pool: keeping it; check its DeleteOnTermination flag", vol, step, strerror(-r));
		return r;
	}
	log_error("EC2: provisioning volume %s failed at step \"%s\" (%s), deleting it", vol, step,
		  strerror(-r));
	{
		struct ec2_error saved = c->last_error;
		int cr = ec2_cleanup_volume(c, vol, timeout);
		c->last_error = saved;
		if (cr < 0) {
			log_error("EC2: could not delete volume %s now (%s); it stays recorded for a later retry",
				  vol, strerror(-cr));
			(void)stage(c, EC2_STAGE_CLEANUP_FAILED, vol, token, dev[0] ? dev : NULL);
		} else {
			(void)stage(c, EC2_STAGE_DELETED, vol, token, NULL);
		}
	}
	return r;
}
