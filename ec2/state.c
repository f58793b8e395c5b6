/* The daemon's state object as JSON (jansson). See state.h. */
#include "ec2/state.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* A JSON string of s; invalid UTF-8 (a mountpoint can hold any byte) becomes '?'. */
static json_t *jstr(const char *s)
{
	if (!s)
		s = "";
	json_t *j = json_string(s);
	if (j)
		return j;
	char *t = strdup(s);
	if (!t)
		return NULL;
	for (char *p = t; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(t);
	free(t);
	return j;
}

static json_t *jreal2(double v)
{
	return json_real(isfinite(v) ? round(v * 100.0) / 100.0 : 0.0);
}

static json_t *jint(double v)
{
	return json_integer(isfinite(v) ? (json_int_t)llround(v) : 0);
}

char *dms_daemon_state_json(const struct dms_daemon_state *s)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	struct {
		const char *key;
		json_t *v;
	} kv[] = {
		{"pid", json_integer(s->pid)},
		{"pool", jstr(s->pool)},
		{"mountpoint", jstr(s->mountpoint)},
		{"pool_ready", json_boolean(s->pool_ready)},
		{"ec2_ready", json_boolean(s->ec2_ready)},
		{"size_bytes", json_integer((json_int_t)s->size_bytes)},
		{"free_bytes", json_integer((json_int_t)s->free_bytes)},
		{"threshold_bytes", json_integer((json_int_t)s->threshold_bytes)},
		{"fill_rate_bps", jint(s->fill_rate_bps)},
		{"time_to_full_s", jint(s->time_to_full_s > 1e17 ? -1.0 : s->time_to_full_s)},
		{"attach_latency_s", jreal2(s->attach_latency_s)},
		{"last_attach_s", jreal2(s->last_attach_s)},
		{"last_create_to_attached_s", jreal2(s->last_create_to_attached_s)},
		{"needed", json_boolean(s->needed)},
		{"reason", jstr(s->reason)},
		{"in_flight", json_integer((json_int_t)s->in_flight)},
		{"provisioned", json_integer((json_int_t)s->provisioned)},
		{"failed", json_integer((json_int_t)s->failed)},
		{"api_calls", json_integer((json_int_t)s->api_calls)},
		{"retries", json_integer((json_int_t)s->retries)},
		{"throttled", json_integer((json_int_t)s->throttled)},
		{"last_result", jstr(s->last_result)},
		{"last_error", jstr(s->last_error)},
	};
	bool ok = true;
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
		ok &= kv[i].v && json_object_set_new(o, kv[i].key, kv[i].v) == 0;
	char *text = ok ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12)) : NULL;
	json_decref(o);
	if (!text)
		return NULL;
	size_t n = strlen(text);
	char *line = realloc(text, n + 2);
	if (!line) {
		free(text);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	return line;
}
