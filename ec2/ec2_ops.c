/* EC2 volume operations and the provisioning sequence, over ec2_call. See ec2.h. */
#include "ec2/ec2.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dmscale/log.h"
#include "ec2/config.h"
#include "ec2/names.h"

static void csleep(struct ec2_client *c, unsigned ms) { c->clock.sleep_ms(c->clock.ud, ms); }
static double cnow(struct ec2_client *c) { return c->clock.mono_s(c->clock.ud); }

/* Every request is the same sequence: build the form (its result in
 * build_r; a failed builder already freed it), call, free the form, parse the
 * body (parse NULL: only the status matters), free the response. A body that
 * does not parse is logged as "EC2 <action> <subject>: malformed response". */
typedef int (*parse_fn)(const struct http_response *resp, void *ctx);

static int call_parse(struct ec2_client *c, struct ec2_form *f, int build_r, parse_fn parse, void *ctx,
		      const char *action, const char *subject)
{
	if (build_r < 0)
		return build_r;
	struct http_response resp;
	int r = ec2_call(c, f, &resp);
	ec2_form_free(f);
	if (r < 0)
		return r;
	r = parse ? parse(&resp, ctx) : 0;
	http_response_free(&resp);
	if (r < 0)
		return log_error_errno(r, "EC2 %s%s%s: malformed response: %m", action, subject ? " " : "",
				       subject ? subject : "");
	return 0;
}

static int parse_create(const struct http_response *resp, void *out)
{
	return ec2_xml_parse_create_volume(resp->body, resp->len, out);
}

struct volumes_ctx {
	struct ec2_volume *vols;
	size_t max, *n, *total;
	char *next_token;
	size_t next_token_len;
};

static int parse_volumes(const struct http_response *resp, void *ctx)
{
	struct volumes_ctx *v = ctx;
	return ec2_xml_parse_describe_volumes(resp->body, resp->len, v->vols, v->max, v->n, v->total, v->next_token,
					      v->next_token_len);
}

struct bdm_ctx {
	struct ec2_bdm *out;
	size_t max, *n;
};

static int parse_bdm(const struct http_response *resp, void *ctx)
{
	struct bdm_ctx *b = ctx;
	return ec2_xml_parse_block_device_mappings(resp->body, resp->len, b->out, b->max, b->n);
}

int ec2_create_volume(struct ec2_client *c, const struct ec2_create_volume_req *req, struct ec2_volume *out)
{
	struct ec2_form f;
	int b = ec2_query_create_volume(req, &f);
	if (b < 0)
		return log_error_errno(b, "EC2 CreateVolume: invalid request: %m");
	int r = call_parse(c, &f, b, parse_create, out, "CreateVolume", NULL);
	if (r == 0 && !dms_valid_volume_id(out->volume_id))
		return log_error_errno(EBADMSG, "EC2 CreateVolume: malformed response (volume id)");
	return r;
}

int ec2_describe_volume(struct ec2_client *c, const char *volume_id, struct ec2_volume *out)
{
	struct ec2_form f;
	const char *ids[] = {volume_id};
	size_t n = 0;
	struct volumes_ctx v = {.vols = out, .max = 1, .n = &n};
	int r = call_parse(c, &f, ec2_query_describe_volumes(ids, 1, &f), parse_volumes, &v, "DescribeVolumes",
			   volume_id);
	if (r < 0)
		return r;
	if (n != 1 || strcmp(out->volume_id, volume_id))
		return -ENOENT;
	return 0;
}

/* uniform in [0.75, 1.25] × ms */
static unsigned jitter_ms(struct ec2_client *c, unsigned ms)
{
	return ms * 3 / 4 + ec2_backoff_ms(0, ms / 2, ms / 2, &c->rng);
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
	double deadline = cnow(c) + timeout_s;
	unsigned delay_ms = EC2_WAIT_FIRST_MS;
	/* the AWS guidance for status polling: give the change time first, then
	 * poll at a growing, jittered interval (a fleet shares one account's
	 * DescribeVolumes bucket, 20 requests/s: docs/COST.md) */
	csleep(c, jitter_ms(c, delay_ms));
	for (;;) {
		/* One attempt per poll: this loop is the poll's retry, at its own
		 * growing pace. Retried inside the call too, a throttled poll
		 * came back up to max_attempts times at 1-20 s while the fleet's
		 * DescribeVolumes bucket was empty (docs/COST.md, the fleet). */
		unsigned attempts = c->max_attempts;
		c->max_attempts = 1;
		c->last_error.cls = EC2_ERR_NONE;   /* a failure before the request (credentials) is not transient */
		int r = ec2_describe_volume(c, volume_id, out);
		c->max_attempts = attempts;
		/* right after CreateVolume the id may not be visible yet; a
		 * throttled or transient failure says nothing about the volume:
		 * keep waiting (slower), bounded by the deadline */
		bool throttled = r == -EBUSY;   /* one attempt: ec2_call's answer to a throttle */
		bool transient = r < 0 && c->last_error.cls == EC2_ERR_RETRYABLE;
		if (r < 0 && r != -ENOENT && !throttled && !transient)
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
		if (cnow(c) + delay_ms / 1000.0 > deadline)
			return log_error_errno(ETIMEDOUT, "EC2 volume %s: not %s%s%s after %u s (state %s)",
					       volume_id, want_state, want_attach ? "/" : "",
					       want_attach ? want_attach : "", timeout_s, r == 0 ? out->state : "unknown");
		delay_ms = delay_ms * 3 / 2 > EC2_WAIT_MAX_MS ? EC2_WAIT_MAX_MS : delay_ms * 3 / 2;
		csleep(c, jitter_ms(c, throttled ? 2 * EC2_WAIT_MAX_MS : delay_ms));
	}
}

static int call_simple(struct ec2_client *c, struct ec2_form *f, int build_r)
{
	return call_parse(c, f, build_r, NULL, NULL, NULL, NULL);
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
	struct bdm_ctx b = {out, max, n};
	return call_parse(c, &f, ec2_query_describe_instances(c->instance_id, &f), parse_bdm, &b,
			  "DescribeInstances", c->instance_id);
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
		size_t got = 0, total = 0;
		struct volumes_ctx v = {out + *n, max - *n, &got, &total, token, sizeof(token)};
		int r = call_parse(c, &f, ec2_query_describe_volumes_by_tag(EC2_TAG_POOL, pool, token, 100, &f),
				   parse_volumes, &v, "DescribeVolumes of pool", pool);
		if (r < 0)
			return r;
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
	if (c->unresolved_token[0]) {   /* the last CreateVolume got no definite answer: the same request */
		snprintf(token, sizeof(token), "%s", c->unresolved_token);
		if (c->unresolved_size_gib != size_gib)
			log_info("EC2: re-sending the unanswered CreateVolume (%llu GiB, the same ClientToken) instead of "
				 "a %llu GiB one", (unsigned long long)c->unresolved_size_gib, (unsigned long long)size_gib);
		size_gib = c->unresolved_size_gib;
	} else {
		ec2_make_client_token(&c->rng, token);
	}
	struct ec2_create_volume_req req = {
		.availability_zone = c->availability_zone, .size_gib = size_gib,
		.volume_type = cfg->volume_type, .iops = cfg->iops, .throughput_mibps = cfg->throughput_mibps,
		.encrypted = cfg->encrypted, .kms_key_id = cfg->kms_key_id, .client_token = token,
		.tags = tags, .n_tags = nt,
	};
	int r = stage(c, EC2_STAGE_CREATING, NULL, token, NULL);
	if (r < 0)
		return r;
	double t0 = cnow(c);
	struct ec2_volume v;
	r = ec2_create_volume(c, &req, &v);
	/* no definite answer (the transport failed or timed out, EC2 was
	 * throttling or failing): the volume may exist; remember the request */
	bool unanswered = r == -ETIMEDOUT || r == -EAGAIN || r == -EBUSY || r == -ECONNRESET || r == -EIO;
	if (r < 0 && unanswered) {
		snprintf(c->unresolved_token, sizeof(c->unresolved_token), "%s", token);
		c->unresolved_size_gib = size_gib;
	} else {
		c->unresolved_token[0] = '\0';
	}
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
	c->last_attach_latency_s = cnow(c) - t0;
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
	 * "attaching": never delete a volume that joined the pool, or that the
	 * daemon cannot prove unused (its keep-or-delete decision, decide.h). */
	if (stage(c, EC2_STAGE_CLEANUP_CHECK, vol, token, dev[0] ? dev : NULL) == 1) {
		log_error("EC2: provisioning volume %s failed at step \"%s\" (%s), but it joined the pool or may "
			  "hold data: keeping it; check its DeleteOnTermination flag", vol, step, strerror(-r));
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
