/* Wipe-on-free allocators (ec2/secmem.c): blocks are zeroed before they are
 * freed or moved, and once the HTTP layer is up, libcurl and jansson (which
 * hold the session token, the IMDS token and the IMDS credential document)
 * allocate through them. */
#include "tests/unit/unit.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "ec2/http.h"
#include "ec2/imds.h"
#include "ec2/secmem.h"

static void test_wipe_and_realloc(void **state)
{
	(void)state;
	char *p = dms_secmem_malloc(100);
	assert_non_null(p);
	memset(p, 'S', 100);
	dms_secmem_wipe(p);
	for (size_t i = 0; i < malloc_usable_size(p); i++)
		assert_int_equal(p[i], 0);
	strcpy(p, "secret-key");
	/* growing moves the block: the content follows, the old block is wiped and freed */
	unsigned long before = dms_secmem_frees();
	char *q = dms_secmem_realloc(p, 100000);
	assert_non_null(q);
	assert_string_equal(q, "secret-key");
	assert_int_equal(dms_secmem_frees(), before + 1);
	/* shrinking keeps it */
	assert_ptr_equal(dms_secmem_realloc(q, 10), q);
	assert_string_equal(q, "secret-key");
	assert_null(dms_secmem_realloc(q, 0));   /* freed */
	char *d = dms_secmem_strdup("tok");
	assert_string_equal(d, "tok");
	dms_secmem_free(d);
	dms_secmem_free(NULL);
	int *z = dms_secmem_calloc(4, sizeof(int));
	assert_true(z[0] == 0 && z[3] == 0);
	dms_secmem_free(z);
}

static void test_installed_for_curl_and_jansson(void **state)
{
	(void)state;
	struct http_client h;
	assert_int_equal(http_client_init(&h, 1000), 0);   /* installs them */
	json_malloc_t m;
	json_free_t f;
	json_get_alloc_funcs(&m, &f);
	assert_ptr_equal(m, dms_secmem_malloc);
	assert_ptr_equal(f, dms_secmem_free);

	/* libcurl frees its header list through them */
	unsigned long before = dms_secmem_frees();
	struct curl_slist *l = curl_slist_append(NULL, "X-Amz-Security-Token: SECRET");
	l = curl_slist_append(l, "X-aws-ec2-metadata-token: SECRET");
	curl_slist_free_all(l);
	assert_true(dms_secmem_frees() >= before + 4);   /* two nodes, two strings */

	/* and jansson the IMDS credential document */
	before = dms_secmem_frees();
	const char *doc = "{\"Code\":\"Success\",\"AccessKeyId\":\"ASIAEXAMPLE\",\"SecretAccessKey\":\"sk\","
			  "\"Token\":\"tok\",\"Expiration\":\"2030-01-01T00:00:00Z\"}";
	struct aws_credentials c;
	assert_int_equal(imds_parse_credentials(doc, strlen(doc), 0, &c), 0);
	assert_true(dms_secmem_frees() > before);
	aws_credentials_wipe(&c);
	http_client_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wipe_and_realloc),
		cmocka_unit_test(test_installed_for_curl_and_jansson),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
