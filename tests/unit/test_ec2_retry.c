/* The EC2 client's real retry code under a fake transport and a fake clock
 * (ec2/clock.h, the seam a fleet simulator uses): throttling
 * (RequestLimitExceeded) is retried with full-jitter exponential backoff that
 * grows and caps; the attempt limit and the retry budget bound it; one
 * CreateVolume keeps its ClientToken across its retries, and the whole
 * provisioning sequence runs in simulated time with no sleep and no socket. */
#include "tests/unit/unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dmscale/log.h"
#include "ec2/config.h"
#include "ec2/ec2.h"
#include "ec2/query.h"

#define VOL "vol-0123456789abcdef0"
#define INSTANCE "i-0123456789abcdef0"

/* ---- fake clock ---- */
struct fake_clock {
	double now_s;
	unsigned sleeps[64];
	size_t n_sleeps;
};

static double fc_mono(void *ud) { return ((struct fake_clock *)ud)->now_s; }
static time_t fc_wall(void *ud) { return (time_t)1700000000 + (time_t)((struct fake_clock *)ud)->now_s; }
static void fc_sleep(void *ud, unsigned ms)
{
	struct fake_clock *k = ud;
	if (k->n_sleeps < 64)
		k->sleeps[k->n_sleeps++] = ms;
	k->now_s += ms / 1000.0;
}

/* ---- fake EC2 (transport) ---- */
struct fake_ec2 {
	unsigned throttle[8];      /* per action below: answer RequestLimitExceeded this many times */
	unsigned calls[8];
	char tokens[16][80];       /* ClientToken of every CreateVolume request */
	size_t n_tokens;
	bool created, attached, dot;
	unsigned bad_auth;         /* requests without a signature over the right Host */
	unsigned lost_create;      /* CreateVolume carried out, its answer lost (timeout) this many times */
	char sizes[16][16];        /* Size of every CreateVolume request */
	const char *host;
};

enum { A_CREATE, A_DESCRIBE_VOLUMES, A_DESCRIBE_INSTANCES, A_ATTACH, A_MODIFY, A_OTHER };

static void form_get(const char *body, const char *key, char *out, size_t outlen)
{
	out[0] = '\0';
	size_t kl = strlen(key);
	for (const char *p = body; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
		if (!strncmp(p, key, kl) && p[kl] == '=') {
			size_t n = strcspn(p + kl + 1, "&");
			snprintf(out, outlen, "%.*s", (int)(n < outlen ? n : outlen - 1), p + kl + 1);
			return;
		}
	}
}

static int reply(struct http_response *resp, long status, const char *body)
{
	resp->status = status;
	resp->body = strdup(body);
	resp->len = strlen(body);
	return resp->body ? 0 : -ENOMEM;
}

static int fake_send(void *ud, const struct http_request *req, struct http_response *resp)
{
	struct fake_ec2 *f = ud;
	memset(resp, 0, sizeof(*resp));
	static const char want_auth[] = "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/";
	bool auth = false, host = false;
	for (size_t i = 0; i < req->n_headers; i++) {
		auth |= !strncmp(req->headers[i], want_auth, sizeof(want_auth) - 1);
		if (!strncmp(req->headers[i], "Host: ", 6))
			host = !strcmp(req->headers[i] + 6, f->host);
	}
	if (!auth || !host || strcmp(req->method, "POST"))
		f->bad_auth++;
	char action[64], token[80];
	form_get(req->body, "Action", action, sizeof(action));
	int a = !strcmp(action, "CreateVolume") ? A_CREATE : !strcmp(action, "DescribeVolumes") ? A_DESCRIBE_VOLUMES
		: !strcmp(action, "DescribeInstances") ? A_DESCRIBE_INSTANCES : !strcmp(action, "AttachVolume") ? A_ATTACH
		: !strcmp(action, "ModifyInstanceAttribute") ? A_MODIFY : A_OTHER;
	f->calls[a]++;
	if (a == A_CREATE && f->n_tokens < 16) {
		form_get(req->body, "Size", f->sizes[f->n_tokens], sizeof(f->sizes[0]));
		form_get(req->body, "ClientToken", token, sizeof(token));
		snprintf(f->tokens[f->n_tokens++], sizeof(f->tokens[0]), "%s", token);
	}
	if (a == A_CREATE && f->lost_create) {
		f->lost_create--;
		f->created = true;
		return -ETIMEDOUT;
	}
	if (f->throttle[a]) {
		f->throttle[a]--;
		return reply(resp, 503, "<Response><Errors><Error><Code>RequestLimitExceeded</Code>"
				 "<Message>Request limit exceeded.</Message></Error></Errors><RequestID>x</RequestID></Response>");
	}
	char buf[2048];
	switch (a) {
	case A_CREATE:
		f->created = true;
		return reply(resp, 200, "<CreateVolumeResponse><volumeId>" VOL "</volumeId><size>8</size>"
				 "<status>creating</status></CreateVolumeResponse>");
	case A_DESCRIBE_VOLUMES:
		if (!f->created)
			return reply(resp, 200, "<DescribeVolumesResponse><volumeSet/></DescribeVolumesResponse>");
		snprintf(buf, sizeof(buf), "<DescribeVolumesResponse><volumeSet><item><volumeId>" VOL "</volumeId>"
			 "<size>8</size><status>%s</status><attachmentSet>%s</attachmentSet></item></volumeSet>"
			 "</DescribeVolumesResponse>", f->attached ? "in-use" : "available",
			 f->attached ? "<item><volumeId>" VOL "</volumeId><instanceId>" INSTANCE "</instanceId>"
				       "<device>/dev/xvdba</device><status>attached</status></item>" : "");
		return reply(resp, 200, buf);
	case A_DESCRIBE_INSTANCES:
		snprintf(buf, sizeof(buf), "<DescribeInstancesResponse><reservationSet><item><instancesSet><item>"
			 "<instanceId>" INSTANCE "</instanceId><blockDeviceMapping><item><deviceName>/dev/xvda"
			 "</deviceName><ebs><volumeId>vol-00000000000000001</volumeId><status>attached</status>"
			 "<deleteOnTermination>true</deleteOnTermination></ebs></item>%s</blockDeviceMapping>"
			 "</item></instancesSet></item></reservationSet></DescribeInstancesResponse>",
			 !f->attached ? "" : f->dot ? "<item><deviceName>/dev/xvdba</deviceName><ebs><volumeId>" VOL
			 "</volumeId><status>attached</status><deleteOnTermination>true</deleteOnTermination></ebs></item>"
			 : "<item><deviceName>/dev/xvdba</deviceName><ebs><volumeId>" VOL "</volumeId><status>attached"
			 "</status><deleteOnTermination>false</deleteOnTermination></ebs></item>");
		return reply(resp, 200, buf);
	case A_ATTACH:
		f->attached = true;
		return reply(resp, 200, "<AttachVolumeResponse><volumeId>" VOL "</volumeId><instanceId>" INSTANCE
				 "</instanceId><device>/dev/xvdba</device><status>attaching</status></AttachVolumeResponse>");
	case A_MODIFY:
		f->dot = true;
		return reply(resp, 200, "<ModifyInstanceAttributeResponse><return>true</return>"
				 "</ModifyInstanceAttributeResponse>");
	}
	return reply(resp, 400, "<Response><Errors><Error><Code>InvalidAction</Code></Error></Errors></Response>");
}

static void quiet(int level, const char *line, void *ud)
{
	(void)level;
	(void)line;
	(void)ud;
}

static void client(struct ec2_client *c, struct fake_ec2 *f, struct fake_clock *k, uint64_t seed)
{
	static struct aws_credentials creds;
	memset(&creds, 0, sizeof(creds));
	strcpy(creds.access_key_id, "AKIDEXAMPLE");
	strcpy(creds.secret_access_key, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
	struct ec2_client_params p = {
		.region = "us-east-1", .endpoint = "http://127.0.0.1:8001", .instance_id = INSTANCE,
		.availability_zone = "us-east-1a", .static_creds = &creds, .rng_seed = seed,
	};
	struct ec2_transport t = {fake_send, f};
	struct ec2_clock ck = {fc_mono, fc_wall, fc_sleep, k};
	memset(c, 0, sizeof(*c));
	f->host = "127.0.0.1:8001";
	assert_int_equal(ec2_client_setup(c, &p, &t, &ck), 0);
}

static int describe(struct ec2_client *c)
{
	struct ec2_volume v;
	return ec2_describe_volume(c, VOL, &v);
}

static void test_backoff_grows_with_jitter_and_caps(void **state)
{
	(void)state;
	log_set_sink(quiet, NULL);
	enum { SEEDS = 400, RETRIES = 7 };
	double sum[RETRIES] = {0};
	unsigned max[RETRIES] = {0}, min[RETRIES];
	for (int i = 0; i < RETRIES; i++)
		min[i] = ~0u;
	for (uint64_t seed = 1; seed <= SEEDS; seed++) {
		struct fake_ec2 f = {0};
		struct fake_clock k = {0};
		struct ec2_client c;
		client(&c, &f, &k, seed * 7919);
		assert_int_equal(c.backoff_base_ms, 1000);   /* the default, as the AWS SDKs' standard mode */
		assert_int_equal(c.throttle_base_ms, 8000);  /* after a throttle (test_throttle_waits_longer) */
		c.throttle_base_ms = 200;                    /* 7 doublings below the 20 s cap */
		f.created = true;
		f.throttle[A_DESCRIBE_VOLUMES] = RETRIES;   /* 8 attempts: the last one succeeds */
		assert_int_equal(describe(&c), 0);
		assert_int_equal(f.calls[A_DESCRIBE_VOLUMES], RETRIES + 1);
		assert_int_equal(k.n_sleeps, RETRIES);
		assert_int_equal(c.retries, RETRIES);
		assert_int_equal(c.throttled, RETRIES);
		assert_int_equal(c.api_calls, RETRIES + 1);
		assert_int_equal(f.bad_auth, 0);
		for (int i = 0; i < RETRIES; i++) {
			unsigned ceil_ms = 200u << i;   /* base 200 ms, doubling; cap 20 s not reached */
			assert_true(k.sleeps[i] <= ceil_ms);
			sum[i] += k.sleeps[i];
			max[i] = k.sleeps[i] > max[i] ? k.sleeps[i] : max[i];
			min[i] = k.sleeps[i] < min[i] ? k.sleeps[i] : min[i];
		}
		ec2_client_free(&c);
	}
	for (int i = 0; i < RETRIES; i++) {
		double mean = sum[i] / SEEDS, half = (200u << i) / 2.0;
		/* full jitter: uniform on [0, ceiling], so the mean is about half the ceiling ... */
		assert_true(mean > 0.8 * half && mean < 1.2 * half);
		/* ... it grows from one retry to the next ... */
		if (i)
			assert_true(mean > 1.5 * sum[i - 1] / SEEDS);
		/* ... and it is jitter, not a fixed wait: the whole range is used */
		assert_true(min[i] < 0.1 * (200u << i) && max[i] > 0.9 * (200u << i));
	}

	/* the cap: with a 1 s cap the late retries are bounded by it, and reach it */
	unsigned late_max = 0;
	for (uint64_t seed = 1; seed <= 100; seed++) {
		struct fake_ec2 f = {0};
		struct fake_clock k = {0};
		struct ec2_client c;
		client(&c, &f, &k, seed);
		c.throttle_base_ms = 200;
		c.backoff_cap_ms = 1000;
		f.created = true;
		f.throttle[A_DESCRIBE_VOLUMES] = RETRIES;
		assert_int_equal(describe(&c), 0);
		for (int i = 0; i < RETRIES; i++)
			assert_true(k.sleeps[i] <= (i < 3 ? 200u << i : 1000u));
		for (int i = 3; i < RETRIES; i++)
			late_max = k.sleeps[i] > late_max ? k.sleeps[i] : late_max;
		ec2_client_free(&c);
	}
	assert_true(late_max > 900 && late_max <= 1000);
	log_set_sink(NULL, NULL);
}

/* A throttle says the account's bucket is empty: its first retry waits on
 * throttle_base_ms (uniform in [0, 8 s]); an unanswered request retries on
 * backoff_base_ms ([0, 1 s]). */
static void test_throttle_waits_longer(void **state)
{
	(void)state;
	log_set_sink(quiet, NULL);
	unsigned throttle_max = 0, lost_max = 0;
	for (uint64_t seed = 1; seed <= 200; seed++) {
		struct fake_ec2 f = {0};
		struct fake_clock k = {0};
		struct ec2_client c;
		client(&c, &f, &k, seed);
		f.created = true;
		f.throttle[A_DESCRIBE_VOLUMES] = 1;
		assert_int_equal(describe(&c), 0);
		assert_int_equal(k.n_sleeps, 1);
		assert_true(k.sleeps[0] <= 8000);
		throttle_max = k.sleeps[0] > throttle_max ? k.sleeps[0] : throttle_max;
		ec2_client_free(&c);

		struct fake_ec2 g = {0};
		struct fake_clock q = {0};
		client(&c, &g, &q, seed);
		g.lost_create = 1;
		struct ec2_form form;
		struct http_response resp;
		const struct ec2_create_volume_req req = {
			.availability_zone = "us-east-1a", .size_gib = 8, .volume_type = "gp3", .client_token = "tok",
		};
		assert_int_equal(ec2_query_create_volume(&req, &form), 0);
		assert_int_equal(ec2_call(&c, &form, &resp), 0);
		http_response_free(&resp);
		ec2_form_free(&form);
		assert_true(q.n_sleeps >= 1);
		assert_true(q.sleeps[0] <= 1000);
		lost_max = q.sleeps[0] > lost_max ? q.sleeps[0] : lost_max;
		ec2_client_free(&c);
	}
	assert_true(throttle_max > 7000);   /* the whole 8 s range is used ... */
	assert_true(lost_max > 900);        /* ... and the 1 s one */
	log_set_sink(NULL, NULL);
}

/* The fleet comparison's fixed schedule (backoff_fixed): base × 2^attempt, no
 * jitter, capped; the same retries otherwise. */
static void test_fixed_backoff(void **state)
{
	(void)state;
	log_set_sink(quiet, NULL);
	struct fake_ec2 f = {0};
	struct fake_clock k = {0};
	struct ec2_client c;
	client(&c, &f, &k, 5);
	c.backoff_fixed = true;
	c.backoff_base_ms = 1000;
	c.backoff_cap_ms = 16000;
	f.created = true;
	f.throttle[A_DESCRIBE_VOLUMES] = 7;
	assert_int_equal(describe(&c), 0);
	assert_int_equal(k.n_sleeps, 7);
	static const unsigned want[7] = {1000, 2000, 4000, 8000, 16000, 16000, 16000};
	for (int i = 0; i < 7; i++)
		assert_int_equal(k.sleeps[i], want[i]);
	assert_int_equal(c.throttled, 7);
	assert_int_equal(ec2_backoff_fixed_ms(40, 1000, 1u << 30), 1u << 30);
	assert_int_equal(ec2_backoff_fixed_ms(0, 0, 100), 0);
	ec2_client_free(&c);
	log_set_sink(NULL, NULL);
}

static void test_limits(void **state)
{
	(void)state;
	log_set_sink(quiet, NULL);
	struct fake_ec2 f = {0};
	struct fake_clock k = {0};
	struct ec2_client c;
	/* throttled past the attempt limit: -EBUSY after max_attempts sends */
	client(&c, &f, &k, 42);
	f.created = true;
	f.throttle[A_DESCRIBE_VOLUMES] = 100;
	assert_int_equal(describe(&c), -EBUSY);
	assert_int_equal(f.calls[A_DESCRIBE_VOLUMES], 8);
	assert_string_equal(c.last_error.code, "RequestLimitExceeded");
	/* the retry budget (100 tokens, 5 a retry, 1 back a success) runs dry:
	 * after 7 + 7 retries (70 tokens), a third call may retry 6 times only */
	assert_int_equal(describe(&c), -EBUSY);
	assert_int_equal(c.retry_budget, 30);
	assert_int_equal(describe(&c), -EBUSY);
	assert_int_equal(c.retry_budget, 0);
	unsigned before = f.calls[A_DESCRIBE_VOLUMES];
	assert_int_equal(describe(&c), -EBUSY);
	assert_int_equal(f.calls[A_DESCRIBE_VOLUMES] - before, 1);   /* no budget: no retry */
	f.throttle[A_DESCRIBE_VOLUMES] = 0;
	assert_int_equal(describe(&c), 0);
	assert_int_equal(c.retry_budget, 1);                         /* a success refunds a token */
	ec2_client_free(&c);
	log_set_sink(NULL, NULL);
}

static void test_client_token_reused_across_retries(void **state)
{
	(void)state;
	log_set_sink(quiet, NULL);
	struct dms_config cfg;
	dms_config_defaults(&cfg);
	cfg.attach_timeout_s = 60;
	struct fake_ec2 f = {0};
	struct fake_clock k = {0};
	struct ec2_client c;
	client(&c, &f, &k, 99);
	f.throttle[A_CREATE] = 3;
	f.throttle[A_ATTACH] = 2;
	char vol[EC2_ID_MAX];
	assert_int_equal(ec2_provision_volume(&c, &cfg, 8, vol), 0);
	assert_string_equal(vol, VOL);
	assert_true(f.attached && f.dot);
	assert_int_equal(f.calls[A_CREATE], 4);
	assert_int_equal(f.calls[A_ATTACH], 3);
	assert_int_equal(f.n_tokens, 4);
	assert_true(strlen(f.tokens[0]) > 8 && strlen(f.tokens[0]) <= 64);
	for (size_t i = 1; i < f.n_tokens; i++)
		assert_string_equal(f.tokens[i], f.tokens[0]);   /* one CreateVolume, one token */
	assert_int_equal(f.bad_auth, 0);
	assert_true(k.now_s > 0);                             /* time passed, simulated */
	char first[80];
	snprintf(first, sizeof(first), "%s", f.tokens[0]);

	/* the next provisioning is another CreateVolume: another token */
	struct fake_ec2 g = {0};
	struct fake_clock k2 = {0};
	c.transport.ud = &g;
	c.clock.ud = &k2;
	g.host = f.host;
	g.throttle[A_CREATE] = 1;
	assert_int_equal(ec2_provision_volume(&c, &cfg, 8, vol), 0);
	assert_int_equal(g.n_tokens, 2);
	assert_string_equal(g.tokens[0], g.tokens[1]);
	assert_string_not_equal(g.tokens[0], first);
	ec2_client_free(&c);
	log_set_sink(NULL, NULL);
}

/* A DescribeVolumes throttled during a wait says nothing about the volume
 * (each poll is one attempt: the wait is its retry): the wait goes on (bounded by attach_timeout_s) and the
 * provisioning succeeds; the first poll comes after EC2_WAIT_FIRST_MS. */
static void test_wait_survives_throttling(void **state)
{
	(void)state;
	log_set_sink(quiet, NULL);
	struct dms_config cfg;
	dms_config_defaults(&cfg);
	cfg.attach_timeout_s = 300;
	struct fake_ec2 f = {0};
	struct fake_clock k = {0};
	struct ec2_client c;
	client(&c, &f, &k, 11);
	f.throttle[A_DESCRIBE_VOLUMES] = 12;   /* > 8 attempts: one ec2_call gives up (-EBUSY) */
	char vol[EC2_ID_MAX];
	assert_int_equal(ec2_provision_volume(&c, &cfg, 8, vol), 0);
	assert_string_equal(vol, VOL);
	assert_true(f.calls[A_DESCRIBE_VOLUMES] > 12);
	assert_true(k.sleeps[0] >= EC2_WAIT_FIRST_MS * 3 / 4 && k.sleeps[0] <= EC2_WAIT_FIRST_MS * 5 / 4);
	/* one attempt per poll: no throttle retry inside a poll (those wait on
	 * the throttle base, uniform in [0, 8 s]); after a throttled poll the
	 * waiter sleeps 2 × EC2_WAIT_MAX_MS, jittered to at least 3/4 of it */
	assert_int_equal(c.retries, 0);
	for (unsigned i = 1; i <= 12 && i < k.n_sleeps; i++)
		assert_true(k.sleeps[i] >= 2 * EC2_WAIT_MAX_MS * 3 / 4);
	ec2_client_free(&c);
	/* still bounded: throttled for ever, the wait times out and the volume is cleaned up */
	struct fake_ec2 g = {0};
	struct fake_clock k2 = {0};
	client(&c, &g, &k2, 12);
	cfg.attach_timeout_s = 60;
	g.throttle[A_DESCRIBE_VOLUMES] = 100000;
	assert_true(ec2_provision_volume(&c, &cfg, 8, vol) < 0);
	assert_true(k2.now_s < 400);
	ec2_client_free(&c);
	log_set_sink(NULL, NULL);
}

/* A CreateVolume whose answers were all lost (EC2 may have created the
 * volume) fails the provisioning; the next provisioning re-sends the same
 * request, same ClientToken and size, so EC2 answers with that volume
 * instead of leaving it behind. A definite answer forgets it. */
static void test_unanswered_create_is_resent(void **state)
{
	(void)state;
	log_set_sink(quiet, NULL);
	struct dms_config cfg;
	dms_config_defaults(&cfg);
	cfg.attach_timeout_s = 60;
	struct fake_ec2 f = {0};
	struct fake_clock k = {0};
	struct ec2_client c;
	client(&c, &f, &k, 21);
	f.lost_create = 100;
	char vol[EC2_ID_MAX];
	assert_int_equal(ec2_provision_volume(&c, &cfg, 8, vol), -ETIMEDOUT);
	size_t first = f.n_tokens;
	assert_true(first >= 2);
	f.lost_create = 0;
	c.retry_budget = 100;
	assert_int_equal(ec2_provision_volume(&c, &cfg, 30, vol), 0);   /* the policy now wants 30 GiB */
	assert_string_equal(vol, VOL);
	assert_string_equal(f.tokens[first], f.tokens[0]);   /* the same request ... */
	assert_string_equal(f.sizes[first], "8");             /* ... the same size */
	assert_int_equal(c.unresolved_token[0], '\0');
	/* answered: the next one is a new request (the fake has one volume: detach it) */
	f.attached = f.dot = false;
	assert_int_equal(ec2_provision_volume(&c, &cfg, 30, vol), 0);
	assert_string_not_equal(f.tokens[f.n_tokens - 1], f.tokens[0]);
	assert_string_equal(f.sizes[f.n_tokens - 1], "30");
	ec2_client_free(&c);
	log_set_sink(NULL, NULL);
}

static void test_setup_checks(void **state)
{
	(void)state;
	log_set_sink(quiet, NULL);
	struct fake_ec2 f = {0};
	struct fake_clock k = {0};
	struct ec2_transport t = {fake_send, &f};
	struct ec2_clock ck = {fc_mono, fc_wall, fc_sleep, &k};
	struct ec2_client c;
	struct ec2_client_params p = {.region = "us-east-1", .instance_id = INSTANCE, .availability_zone = "a"};
	memset(&c, 0, sizeof(c));
	assert_int_equal(ec2_client_setup(&c, &p, &t, &ck), 0);
	assert_string_equal(c.endpoint, "https://ec2.us-east-1.amazonaws.com");
	assert_string_equal(c.host, "ec2.us-east-1.amazonaws.com");
	p.endpoint = "http://ec2.us-east-1.amazonaws.com";   /* plain http off the host */
	assert_int_equal(ec2_client_setup(&c, &p, &t, &ck), -EPERM);
	p.endpoint = NULL;
	p.instance_id = "i-nothex";
	assert_int_equal(ec2_client_setup(&c, &p, &t, &ck), -EINVAL);
	log_set_sink(NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_grows_with_jitter_and_caps),
		cmocka_unit_test(test_throttle_waits_longer),
		cmocka_unit_test(test_fixed_backoff),
		cmocka_unit_test(test_wait_survives_throttling),
		cmocka_unit_test(test_unanswered_create_is_resent),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_client_token_reused_across_retries),
		cmocka_unit_test(test_setup_checks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
