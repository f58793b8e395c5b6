/* The fleet's in-process EC2. See ec2sim.h. */
#include "bench/sim/ec2sim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *sim_api_name(enum sim_api a)
{
	static const char *const n[SIM_N_API] = {"CreateVolume", "DescribeVolumes", "DescribeInstances",
						 "AttachVolume", "ModifyInstanceAttribute", "DetachVolume",
						 "DeleteVolume", "other"};
	return a < SIM_N_API ? n[a] : "?";
}

void ec2sim_init(struct ec2sim *s, uint64_t seed, double lost_create)
{
	memset(s, 0, sizeof(*s));
	static const double caprate[SIM_N_API][2] = {
		[SIM_CREATE] = {100, 5}, [SIM_DESCRIBE_VOLUMES] = {100, 20}, [SIM_DESCRIBE_INSTANCES] = {100, 20},
		[SIM_ATTACH] = {50, 5}, [SIM_MODIFY] = {50, 5}, [SIM_DETACH] = {50, 5}, [SIM_DELETE] = {100, 5},
		[SIM_OTHER] = {50, 5},
	};
	for (int a = 0; a < SIM_N_API; a++)
		s->bucket[a] = (struct sim_bucket){caprate[a][0], caprate[a][1], caprate[a][0], 0};
	s->rng.s = seed;
	s->lost_create = lost_create;
}

void ec2sim_free(struct ec2sim *s)
{
	free(s->vols);
	s->vols = NULL;
	s->n_vols = s->cap_vols = 0;
}

static bool take(struct sim_bucket *b, double now)
{
	if (now > b->t) {
		b->tokens += (now - b->t) * b->rate;
		if (b->tokens > b->cap)
			b->tokens = b->cap;
		b->t = now;
	}
	if (b->tokens < 1)
		return false;
	b->tokens -= 1;
	return true;
}

/* value of form key `key` (percent-decoded) */
static void form_get(const char *body, const char *key, char *out, size_t outlen)
{
	out[0] = '\0';
	size_t kl = strlen(key);
	for (const char *p = body; p && *p;) {
		if (!strncmp(p, key, kl) && p[kl] == '=') {
			const char *v = p + kl + 1;
			size_t o = 0;
			while (*v && *v != '&' && o + 1 < outlen) {
				unsigned x;
				if (*v == '%' && sscanf(v + 1, "%2x", &x) == 1) {
					out[o++] = (char)x;
					v += 3;
				} else {
					out[o++] = *v++;
				}
			}
			out[o] = '\0';
			return;
		}
		p = strchr(p, '&');
		p = p ? p + 1 : NULL;
	}
}

struct sim_volume *ec2sim_volume(struct ec2sim *s, const char *id)
{
	for (size_t i = 0; i < s->n_vols; i++)
		if (!strcmp(s->vols[i].id, id))
			return &s->vols[i];
	return NULL;
}

static int reply(struct http_response *resp, long status, const char *body)
{
	resp->status = status;
	resp->body = strdup(body);
	resp->len = strlen(body);
	return resp->body ? 0 : -ENOMEM;
}

static int error_reply(struct http_response *resp, long status, const char *code, const char *msg)
{
	char b[512];
	snprintf(b, sizeof(b), "<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors>"
		 "<RequestID>sim</RequestID></Response>", code, msg);
	return reply(resp, status, b);
}

static const char *vol_state(const struct sim_volume *v, double now)
{
	if (now < v->t_available)
		return "creating";
	return v->attached_to >= 0 ? "in-use" : "available";
}

static int create(struct ec2sim *s, int inst, const char *body, double now, struct http_response *resp)
{
	char token[80], size[24];
	form_get(body, "ClientToken", token, sizeof(token));
	form_get(body, "Size", size, sizeof(size));
	struct sim_volume *v = NULL;
	for (size_t i = 0; token[0] && i < s->n_vols && !v; i++)
		if (s->vols[i].owner == inst && !strcmp(s->vols[i].token, token))
			v = &s->vols[i];
	if (!v) {
		if (s->n_vols == s->cap_vols) {
			size_t nc = s->cap_vols ? s->cap_vols * 2 : 1024;
			struct sim_volume *nv = realloc(s->vols, nc * sizeof(*nv));
			if (!nv)
				return -ENOMEM;
			s->vols = nv;
			s->cap_vols = nc;
		}
		v = &s->vols[s->n_vols];
		memset(v, 0, sizeof(*v));
		snprintf(v->id, sizeof(v->id), "vol-%017zx", s->n_vols + 1);
		s->n_vols++;
		snprintf(v->token, sizeof(v->token), "%s", token);
		v->owner = inst;
		v->size_gib = strtoull(size, NULL, 10);
		struct attach_latency l;
		latency_draw(&s->rng, &l);
		v->t_available = now + l.create_s;
		v->t_attached = l.attach_s;   /* the draw, used when attached */
		v->attached_to = -1;
		if (sim_rng_uniform(&s->rng) < s->lost_create) {
			s->lost++;
			return -ETIMEDOUT;
		}
	}
	char b[256];
	snprintf(b, sizeof(b), "<CreateVolumeResponse><volumeId>%s</volumeId><size>%llu</size><status>creating</status>"
		 "</CreateVolumeResponse>", v->id, (unsigned long long)v->size_gib);
	return reply(resp, 200, b);
}

static int describe_volumes(struct ec2sim *s, const char *body, double now, const char *iid,
			    struct http_response *resp)
{
	char id[32];
	form_get(body, "VolumeId.1", id, sizeof(id));
	struct sim_volume *v = ec2sim_volume(s, id);
	if (!v || v->deleted)
		return error_reply(resp, 400, "InvalidVolume.NotFound", "The volume does not exist.");
	if (v->attached_to >= 0 && v->t_detached > 0 && now >= v->t_detached)
		v->attached_to = -1;
	char att[256] = "", b[768];
	if (v->attached_to >= 0)
		snprintf(att, sizeof(att), "<item><volumeId>%s</volumeId><instanceId>%s</instanceId><device>%s</device>"
			 "<status>%s</status></item>", v->id, iid, v->device,
			 v->t_detached > 0 ? "detaching" : now >= v->t_attached ? "attached" : "attaching");
	snprintf(b, sizeof(b), "<DescribeVolumesResponse><volumeSet><item><volumeId>%s</volumeId><size>%llu</size>"
		 "<status>%s</status><attachmentSet>%s</attachmentSet></item></volumeSet></DescribeVolumesResponse>",
		 v->id, (unsigned long long)v->size_gib, vol_state(v, now), att);
	return reply(resp, 200, b);
}

static int describe_instances(struct ec2sim *s, int inst, const char *iid, struct http_response *resp)
{
	size_t cap = 4096, len = 0;
	char *b = malloc(cap);
	if (!b)
		return -ENOMEM;
	len += (size_t)snprintf(b, cap, "<DescribeInstancesResponse><reservationSet><item><instancesSet><item>"
				"<instanceId>%s</instanceId><blockDeviceMapping><item><deviceName>/dev/xvda</deviceName>"
				"<ebs><volumeId>vol-0000000000000000f</volumeId><status>attached</status>"
				"<deleteOnTermination>true</deleteOnTermination></ebs></item>", iid);
	for (size_t i = 0; i < s->n_vols; i++) {
		const struct sim_volume *v = &s->vols[i];
		if (v->deleted || v->attached_to != inst)
			continue;
		if (cap - len < 512) {
			cap *= 2;
			char *nb = realloc(b, cap);
			if (!nb) {
				free(b);
				return -ENOMEM;
			}
			b = nb;
		}
		len += (size_t)snprintf(b + len, cap - len, "<item><deviceName>%s</deviceName><ebs><volumeId>%s</volumeId>"
					"<status>attached</status><deleteOnTermination>%s</deleteOnTermination></ebs></item>",
					v->device, v->id, v->dot ? "true" : "false");
	}
	snprintf(b + len, cap - len, "</blockDeviceMapping></item></instancesSet></item></reservationSet>"
		 "</DescribeInstancesResponse>");
	resp->status = 200;
	resp->body = b;
	resp->len = strlen(b);
	return 0;
}

static int attach(struct ec2sim *s, int inst, const char *body, double now, struct http_response *resp)
{
	char id[32], dev[32];
	form_get(body, "VolumeId", id, sizeof(id));
	form_get(body, "Device", dev, sizeof(dev));
	struct sim_volume *v = ec2sim_volume(s, id);
	if (!v || v->deleted)
		return error_reply(resp, 400, "InvalidVolume.NotFound", "The volume does not exist.");
	if (now < v->t_available || v->attached_to >= 0)
		return error_reply(resp, 400, "IncorrectState", "The volume is not available.");
	for (size_t i = 0; i < s->n_vols; i++)
		if (!s->vols[i].deleted && s->vols[i].attached_to == inst && !strcmp(s->vols[i].device, dev))
			return error_reply(resp, 400, "InvalidParameterValue", "The device name is already in use.");
	v->attached_to = inst;
	snprintf(v->device, sizeof(v->device), "%s", dev);
	v->t_attached = now + v->t_attached;   /* the attach latency drawn at creation */
	char b[256];
	snprintf(b, sizeof(b), "<AttachVolumeResponse><volumeId>%s</volumeId><device>%s</device><status>attaching</status>"
		 "</AttachVolumeResponse>", v->id, dev);
	return reply(resp, 200, b);
}

int ec2sim_handle(struct ec2sim *s, int inst, const char *iid, double now, const struct http_request *req,
		  struct http_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	const char *body = req->body ? req->body : "";
	char action[48], id[32], dev[32];
	form_get(body, "Action", action, sizeof(action));
	enum sim_api a = !strcmp(action, "CreateVolume") ? SIM_CREATE
		       : !strcmp(action, "DescribeVolumes") ? SIM_DESCRIBE_VOLUMES
		       : !strcmp(action, "DescribeInstances") ? SIM_DESCRIBE_INSTANCES
		       : !strcmp(action, "AttachVolume") ? SIM_ATTACH
		       : !strcmp(action, "ModifyInstanceAttribute") ? SIM_MODIFY
		       : !strcmp(action, "DetachVolume") ? SIM_DETACH
		       : !strcmp(action, "DeleteVolume") ? SIM_DELETE : SIM_OTHER;
	s->calls[a]++;
	if (!take(&s->bucket[a], now)) {
		s->throttled[a]++;
		return error_reply(resp, 503, "RequestLimitExceeded", "Request limit exceeded.");
	}
	struct sim_volume *v;
	switch (a) {
	case SIM_CREATE: return create(s, inst, body, now, resp);
	case SIM_DESCRIBE_VOLUMES: return describe_volumes(s, body, now, iid, resp);
	case SIM_DESCRIBE_INSTANCES: return describe_instances(s, inst, iid, resp);
	case SIM_ATTACH: return attach(s, inst, body, now, resp);
	case SIM_MODIFY:
		form_get(body, "BlockDeviceMapping.1.DeviceName", dev, sizeof(dev));
		for (size_t i = 0; i < s->n_vols; i++)
			if (!s->vols[i].deleted && s->vols[i].attached_to == inst && !strcmp(s->vols[i].device, dev))
				s->vols[i].dot = true;
		return reply(resp, 200, "<ModifyInstanceAttributeResponse><return>true</return>"
				    "</ModifyInstanceAttributeResponse>");
	case SIM_DETACH:
		form_get(body, "VolumeId", id, sizeof(id));
		v = ec2sim_volume(s, id);
		if (!v || v->deleted)
			return error_reply(resp, 400, "InvalidVolume.NotFound", "The volume does not exist.");
		if (v->attached_to < 0)
			return error_reply(resp, 400, "IncorrectState", "The volume is not attached.");
		v->t_detached = now + 2;
		return reply(resp, 200, "<DetachVolumeResponse><status>detaching</status></DetachVolumeResponse>");
	case SIM_DELETE:
		form_get(body, "VolumeId", id, sizeof(id));
		v = ec2sim_volume(s, id);
		if (!v || v->deleted)
			return error_reply(resp, 400, "InvalidVolume.NotFound", "The volume does not exist.");
		if (v->attached_to >= 0 && !(v->t_detached > 0 && now >= v->t_detached))
			return error_reply(resp, 400, "VolumeInUse", "The volume is attached.");
		v->deleted = true;
		return reply(resp, 200, "<DeleteVolumeResponse><return>true</return></DeleteVolumeResponse>");
	default:
		return error_reply(resp, 400, "InvalidAction", "Not simulated.");
	}
}
