/* systemd credentials: read from $CREDENTIALS_DIRECTORY, behind getenv, and
 * fed to the daemon's config as static keys. */
#include "tests/unit/unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dmscale/credentials.h"
#include "ec2/config.h"

static char dir[] = "/tmp/dmscale-creds-XXXXXX";

static void put(const char *name, const char *value, size_t len)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0400);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, value, len), (ssize_t)len);
	close(fd);
}

static void drop(const char *name)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

static void test_read(void **state)
{
	(void)state;
	char v[64];
	put("KEY", "secret\n", 7);
	assert_int_equal(dms_credential_read(dir, "KEY", v, sizeof(v)), 0);
	assert_string_equal(v, "secret");
	put("KEY", "abc\r\n", 5);
	assert_int_equal(dms_credential_read(dir, "KEY", v, sizeof(v)), 0);
	assert_string_equal(v, "abc");
	put("KEY", "two\nlines\n", 10);
	assert_int_equal(dms_credential_read(dir, "KEY", v, sizeof(v)), -EINVAL);
	put("KEY", "nul\0x", 5);
	assert_int_equal(dms_credential_read(dir, "KEY", v, sizeof(v)), -EINVAL);
	put("KEY", "0123456789", 10);
	assert_int_equal(dms_credential_read(dir, "KEY", v, 10), -E2BIG);
	assert_int_equal(dms_credential_read(dir, "KEY", v, 11), 0);
	assert_int_equal(dms_credential_read(dir, "NONE", v, sizeof(v)), -ENOENT);
	assert_int_equal(dms_credential_read(dir, "../etc/passwd", v, sizeof(v)), -EINVAL);
	assert_int_equal(dms_credential_read(dir, "", v, sizeof(v)), -EINVAL);
	unsetenv("CREDENTIALS_DIRECTORY");
	assert_int_equal(dms_credential_read(NULL, "KEY", v, sizeof(v)), -ENOENT);
	drop("KEY");
}

static void test_config_from_credentials(void **state)
{
	(void)state;
	struct dms_config *c = calloc(1, sizeof(*c));
	char err[256];
	put("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE\n", 12);
	put("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\n", 41);
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	assert_int_equal(dms_config_apply_env(c, dms_credential_getenv, err, sizeof(err)), 0);
	assert_true(c->has_static_creds);
	assert_string_equal(c->access_key_id, "AKIDEXAMPLE");
	assert_string_equal(c->secret_access_key, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
	/* the environment still wins when set */
	setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENV", 1);
	assert_string_equal(dms_credential_getenv("AWS_ACCESS_KEY_ID"), "AKIDFROMENV");
	unsetenv("AWS_ACCESS_KEY_ID");
	assert_null(dms_credential_getenv("AWS_SESSION_TOKEN"));
	dms_credential_wipe();
	drop("AWS_SECRET_ACCESS_KEY");
	assert_null(dms_credential_getenv("AWS_SECRET_ACCESS_KEY"));   /* re-read after a wipe */
	drop("AWS_ACCESS_KEY_ID");
	unsetenv("CREDENTIALS_DIRECTORY");
	dms_config_wipe_secrets(c);
	free(c);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read),
		cmocka_unit_test(test_config_from_credentials),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
