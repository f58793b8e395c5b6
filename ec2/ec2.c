/* EC2 client: set-up (real or over any transport/clock), credentials, and one
 * signed call with retries and backoff. Operations: ec2_ops.c. See ec2.h. */
#include "ec2/ec2.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "dmscale/ebsname.h"
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

unsigned ec2_backoff_fixed_ms(unsigned attempt, unsigned base_ms, unsigned cap_ms)
{
	uint64_t ms = base_ms;
	for (unsigned i = 0; i < attempt && ms < cap_ms; i++)
		ms *= 2;
	return (unsigned)(ms > cap_ms ? cap_ms : ms);
}

int ec2_pick_device(const char *const *in_use, size_t n, char *out, size_t outlen)
{
	for (int c = 'a'; c <= 'z'; c++) {
		char cand[16];
		snprintf(cand, sizeof(cand), EC2_DEVICE_PREFIX "%c", c);
		bool used = false;
		for (size_t i = 0; i < n && !used; i++)
			used = in_use[i] && dms_ebs_name_matches(cand, in_use[i]);
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

static void csleep(struct ec2_client *c, unsigned ms) { c->clock.sleep_ms(c->clock.ud, ms); }

/* ---- client ---- */
int ec2_client_setup(struct ec2_client *c, const struct ec2_client_params *p, const struct ec2_transport *t,
		     const struct ec2_clock *k)
{
	c->max_attempts = 8;
	c->backoff_base_ms = 1000;
	c->throttle_base_ms = 8000;
	c->backoff_cap_ms = 20000;
	c->retry_budget = 100;
	c->transport = *t;
	c->clock = *k;
	c->rng = p->rng_seed;
	if (!c->rng && getrandom(&c->rng, sizeof(c->rng), 0) != sizeof(c->rng))
		c->rng = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)c;
	if (!p->region || !p->region[0] || strlen(p->region) >= sizeof(c->region) || strpbrk(p->region, "/ ") ||
	    !ec2_valid_instance_id(p->instance_id) || !p->availability_zone ||
	    strlen(p->availability_zone) >= sizeof(c->availability_zone))
		return -EINVAL;
	snprintf(c->region, sizeof(c->region), "%s", p->region);
	snprintf(c->instance_id, sizeof(c->instance_id), "%s", p->instance_id);
	snprintf(c->availability_zone, sizeof(c->availability_zone), "%s", p->availability_zone);
	char url[300], msg[400];
	if (p->endpoint && p->endpoint[0])
		snprintf(url, sizeof(url), "%s", p->endpoint);
	else
		snprintf(url, sizeof(url), "https://ec2.%s.amazonaws.com", c->region);
	struct http_endpoint e;
	int r = http_endpoint_parse(url, HTTP_ENDPOINT_EC2, &e, msg, sizeof(msg));
	if (r < 0)
		return log_error_errno(-r, "EC2 endpoint %s", msg);
	snprintf(c->endpoint, sizeof(c->endpoint), "%s", e.url);
	snprintf(c->host, sizeof(c->host), "%s", e.host);
	if (p->static_creds) {
		c->static_creds = true;
		c->creds = *p->static_creds;
	}
	return 0;
}

int ec2_client_init(struct ec2_client *c, const struct dms_config *cfg, const struct ec2_clock *clock)
{
	memset(c, 0, sizeof(*c));
	struct aws_credentials sc;
	char region[sizeof(c->region)] = "", instance[EC2_ID_MAX], az[EC2_ID_MAX];
	memset(&sc, 0, sizeof(sc));
	int r = http_client_init(&c->http, cfg->api_timeout_ms);
	if (r < 0)
		return log_error_errno(r, "EC2: cannot initialise libcurl: %m");
	r = imds_client_init(&c->imds, cfg->imds_endpoint, cfg->api_timeout_ms);
	if (r < 0)
		goto fail;
	c->imds_ready = true;

	if ((r = imds_get_instance_id(&c->imds, instance, sizeof(instance))) < 0 ||
	    (r = imds_get_availability_zone(&c->imds, az, sizeof(az))) < 0)
		goto fail;
	if (!ec2_valid_instance_id(instance)) {
		r = log_error_errno(EBADMSG, "IMDS: instance id \"%s\" is not valid", instance);
		goto fail;
	}
	if (cfg->region[0])
		snprintf(region, sizeof(region), "%s", cfg->region);
	else if ((r = imds_get_region(&c->imds, region, sizeof(region))) < 0)
		goto fail;
	if (cfg->has_static_creds) {
		snprintf(sc.access_key_id, sizeof(sc.access_key_id), "%s", cfg->access_key_id);
		snprintf(sc.secret_access_key, sizeof(sc.secret_access_key), "%s", cfg->secret_access_key);
		snprintf(sc.session_token, sizeof(sc.session_token), "%s", cfg->session_token);
	}
	struct ec2_client_params p = {
		.region = region, .endpoint = cfg->ec2_endpoint, .instance_id = instance,
		.availability_zone = az, .static_creds = cfg->has_static_creds ? &sc : NULL,
	};
	struct ec2_transport t = ec2_http_transport(&c->http);
	r = ec2_client_setup(c, &p, &t, clock ? clock : &ec2_real_clock);
	aws_credentials_wipe(&sc);
	if (r < 0)
		goto fail;
	if (!c->static_creds && (r = imds_get_role_credentials(&c->imds, &c->creds)) < 0)
		goto fail;
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
	if (!c->static_creds && !c->imds_ready)   /* a client set up without IMDS needs static keys */
		return -ENOKEY;
	if (c->static_creds)
		return force ? -EKEYEXPIRED : 0;
	if (!force && !aws_credentials_need_refresh(&c->creds, c->clock.wall_s(c->clock.ud)))
		return 0;
	struct aws_credentials n;
	int r = imds_get_role_credentials(&c->imds, &n);
	if (r < 0) {
		explicit_bzero(&n, sizeof(n));
		/* keep using the old ones while they are still valid */
		return c->creds.expiration > c->clock.wall_s(c->clock.ud) && !force ? 0 : r;
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
		r = sigv4_sign_form_post(&sc, c->region, "ec2", c->host, f->buf, f->len, c->clock.wall_s(c->clock.ud),
					 &sh);
		if (r < 0)
			return log_error_errno(r, "EC2 %s: cannot sign the request: %m", action);
		struct http_request req = {
			.method = "POST", .url = c->endpoint, .headers = (const char *const *)sh.lines,
			.n_headers = sh.n, .body = f->buf, .body_len = f->len,
		};
		c->api_calls++;
		r = c->transport.send(c->transport.ud, &req, resp);
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
		unsigned base = e->cls == EC2_ERR_THROTTLE ? c->throttle_base_ms : c->backoff_base_ms;
		unsigned ms = c->backoff_fixed ? ec2_backoff_fixed_ms(attempt, c->backoff_base_ms, c->backoff_cap_ms)
					       : ec2_backoff_ms(attempt, base, c->backoff_cap_ms, &c->rng);
		log_debug("EC2 %s: %s (%s), retry %u in %u ms", action, e->code, ec2_err_class_name(e->cls),
			  attempt + 1, ms);
		csleep(c, ms);
	}
}

