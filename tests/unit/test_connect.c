/* The daemon's EC2 client bring-up (ec2/connect.c): static credentials
 * survive failed initialisations (issue 12 item 6: they were wiped after the
 * first attempt, so every retry fell back to the instance role), are wiped
 * once a client holds them, and the retries back off 2 s doubling to 60 s
 * from the end of the failed attempt. */
#include "tests/unit/unit.h"

#include <errno.h>
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
} F;

static double fake_mono(void *ud)
{
	(void)ud;
	return F.now;
}

static const struct ec2_clock fake_clock = {fake_mono, NULL, NULL, NULL};

static int fake_init(struct ec2_client *c, const struct dms_config *cfg)
{
	(void)c;
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

static void test_static_creds_survive_failures(void **state)
{
	(void)state;
	log_set_sink(quiet, NULL);
	memset(&F, 0, sizeof(F));
	F.fail_first = 3;
	F.now = 1000;
	struct dms_config cfg;
	config_with_keys(&cfg);
	struct ec2_connector k;
	struct ec2_client c;
	ec2_connector_init(&k, &cfg, fake_init, &fake_clock);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_static_creds_survive_failures),
		cmocka_unit_test(test_backoff_from_the_end_of_an_attempt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
