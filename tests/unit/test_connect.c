/* The daemon's EC2 client bring-up (ec2/connect.c): static credentials
 * survive failed initialisations (issue 12 item 6: they were wiped after the
 * first attempt, so every retry fell back to the instance role), are wiped
 * once a client holds them, the retries back off 2 s doubling to 60 s from the
 * end of the failed attempt, and the client brought up runs on the
 * connector's clock. */
#include "tests/unit/unit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dmscale/log.h"
#include "ec2/connect.h"
#include "ec2/ec2.h"

static struct {
	unsigned calls;
	unsigned fail_first;          /* fail this many calls */
	bool saw_static[8];
	char saw_secret[8][128];
	double now;                   /* the fake clock */
	double init_takes_s;          /* an attempt costs this much time */
	const struct ec2_clock *saw_clock;   /* the clock the last init was given */
	unsigned sleeps;              /* the fake clock's sleeps */
} F;

static double fake_mono(void *ud)
{
	(void)ud;
	return F.now;
}

static time_t fake_wall(void *ud)
{
	(void)ud;
	return (time_t)1700000000 + (time_t)F.now;
}

static void fake_sleep(void *ud, unsigned ms)
{
	(void)ud;
	F.sleeps++;
	F.now += ms / 1e3;
}

static const struct ec2_clock fake_clock = {fake_mono, fake_wall, fake_sleep, NULL};

static int fake_init(struct ec2_client *c, const struct dms_config *cfg, const struct ec2_clock *clock)
{
	(void)c;
	F.saw_clock = clock;
	unsigned i = F.calls++;
	if (i < 8) {
		F.saw_static[i] = cfg->has_static_creds;
		memcpy(F.saw_secret[i], cfg->secret_access_key, sizeof(F.saw_secret[i]));
	}
	F.now += F.init_takes_s;
	return i < F.fail_first ? -EHOSTUNREACH : 0;
}

static void quiet(int level, const char *line, void *ud)
{
	(void)ud;
	(void)level;
	(void)line;
}

static void config_with_keys(struct dms_config *cfg)
{
	dms_config_defaults(cfg);
	cfg->has_static_creds = true;
	strcpy(cfg->access_key_id, "AKIDEXAMPLE");
	strcpy(cfg->secret_access_key, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
	strcpy(cfg->session_token, "tok");
}

/* A connector over the fake clock at now_s, handed a configuration with static keys. */
static void connector_with_keys(struct ec2_connector *k, struct dms_config *cfg, ec2_init_fn init, double now_s)
{
	log_set_sink(quiet, NULL);
	memset(&F, 0, sizeof(F));
	F.now = now_s;
	config_with_keys(cfg);
	ec2_connector_init(k, cfg, init, &fake_clock);
}

static void test_static_creds_survive_failures(void **state)
{
	(void)state;
	struct dms_config cfg;
	struct ec2_connector k;
	struct ec2_client c;
	connector_with_keys(&k, &cfg, fake_init, 1000);
	F.fail_first = 3;
	/* the caller's copy is wiped at once: the connector holds the secrets */
	assert_false(cfg.has_static_creds);
	assert_string_equal(cfg.secret_access_key, "");

	for (unsigned attempt = 0; attempt < 4; attempt++) {
		int r = ec2_connector_try(&k, &c, F.now);
		assert_int_equal(r, attempt < 3 ? -EHOSTUNREACH : 1);
		/* every attempt, the failed ones' successors included, gets the static keys */
		assert_true(F.saw_static[attempt]);
		assert_string_equal(F.saw_secret[attempt], "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
		F.now = k.next_try_s;
	}
	assert_int_equal(F.calls, 4);
	assert_true(k.ready);
	/* the client has its copy: the connector's is gone */
	assert_false(k.cfg.has_static_creds);
	assert_string_equal(k.cfg.secret_access_key, "");
	assert_string_equal(k.cfg.session_token, "");
	/* ready: no more attempts */
	assert_int_equal(ec2_connector_try(&k, &c, F.now + 1000), 0);
	assert_int_equal(F.calls, 4);
	ec2_connector_free(&k);
	log_set_sink(NULL, NULL);
}

static void test_backoff_from_the_end_of_an_attempt(void **state)
{
	(void)state;
	log_set_sink(quiet, NULL);
	memset(&F, 0, sizeof(F));
	F.fail_first = 100;
	F.now = 0;
	F.init_takes_s = 5;     /* IMDS timing out */
	struct dms_config cfg;
	dms_config_defaults(&cfg);
	struct ec2_connector k;
	struct ec2_client c;
	ec2_connector_init(&k, &cfg, fake_init, &fake_clock);
	const double gaps[] = {2, 4, 8, 16, 32, 60, 60};
	for (size_t i = 0; i < sizeof(gaps) / sizeof(gaps[0]); i++) {
		double t0 = F.now;
		assert_int_equal(ec2_connector_try(&k, &c, t0), -EHOSTUNREACH);
		assert_true(k.next_try_s == t0 + 5 + gaps[i]);
		/* too early: nothing happens */
		assert_int_equal(ec2_connector_try(&k, &c, k.next_try_s - 0.5), 0);
		F.now = k.next_try_s;
	}
	assert_int_equal(F.calls, 7);
	assert_false(k.ready);
	/* without static keys the init sees none (instance role) */
	assert_false(F.saw_static[0]);
	ec2_connector_free(&k);
	log_set_sink(NULL, NULL);
}

/* EC2 is unreachable: every call fails at the transport (retryable). */
static int unreachable(void *ud, const struct http_request *req, struct http_response *resp)
{
	(void)ud;
	(void)req;
	memset(resp, 0, sizeof(*resp));
	return -ECONNREFUSED;
}

/* ec2_client_init without IMDS or libcurl: the same set-up over the clock it
 * is given (NULL: the real one), static keys, and an unreachable EC2. */
static int setup_init(struct ec2_client *c, const struct dms_config *cfg, const struct ec2_clock *clock)
{
	static struct aws_credentials creds;
	memset(c, 0, sizeof(*c));
	memset(&creds, 0, sizeof(creds));
	snprintf(creds.access_key_id, sizeof(creds.access_key_id), "%s", cfg->access_key_id);
	snprintf(creds.secret_access_key, sizeof(creds.secret_access_key), "%s", cfg->secret_access_key);
	struct ec2_client_params p = {
		.region = "us-east-1", .instance_id = "i-0123456789abcdef0", .availability_zone = "us-east-1a",
		.static_creds = &creds, .rng_seed = 1,
	};
	struct ec2_transport t = {unreachable, NULL};
	F.saw_clock = clock;
	F.calls++;
	return ec2_client_setup(c, &p, &t, clock ? clock : &ec2_real_clock);
}

/* The client's waits (its retry backoffs, the attachment poll) sleep on the
 * connector's clock: the daemon's wakes on udev events and the pool. It was
 * ec2_client_init's real clock, overwritten after the init by the connector;
 * now the init is given the connector's clock and installs it once. */
static void test_client_runs_on_the_connectors_clock(void **state)
{
	(void)state;
	struct dms_config cfg;
	struct ec2_connector k;
	struct ec2_client c;
	connector_with_keys(&k, &cfg, setup_init, 50);
	assert_int_equal(ec2_connector_try(&k, &c, F.now), 1);
	assert_ptr_equal(F.saw_clock, &fake_clock);
	assert_ptr_equal(c.clock.mono_s, fake_mono);
	assert_ptr_equal(c.clock.wall_s, fake_wall);
	assert_ptr_equal(c.clock.sleep_ms, fake_sleep);
	/* a call's retries back off on it: every attempt but the last sleeps there */
	struct ec2_volume v;
	assert_int_equal(ec2_describe_volume(&c, "vol-0123456789abcdef0", &v), -ECONNREFUSED);
	assert_int_equal(F.sleeps, c.max_attempts - 1);
	assert_true(F.now > 50);
	ec2_connector_free(&k);
	log_set_sink(NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_static_creds_survive_failures),
		cmocka_unit_test(test_backoff_from_the_end_of_an_attempt),
		cmocka_unit_test(test_client_runs_on_the_connectors_clock),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
