/* Wipe-on-free allocators for libcurl and jansson. See secmem.h. */
#include "ec2/secmem.h"

#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

static unsigned long n_frees;

void dms_secmem_wipe(void *p)
{
	if (p)
		explicit_bzero(p, malloc_usable_size(p));
}

void *dms_secmem_malloc(size_t n) { return malloc(n); }
void *dms_secmem_calloc(size_t n, size_t size) { return calloc(n, size); }

void dms_secmem_free(void *p)
{
	if (!p)
		return;
	dms_secmem_wipe(p);
	free(p);
	n_frees++;
}

/* Never realloc() in place: a moved block would be freed unwiped. */
void *dms_secmem_realloc(void *p, size_t n)
{
	if (!p)
		return malloc(n);
	if (!n) {
		dms_secmem_free(p);
		return NULL;
	}
	size_t old = malloc_usable_size(p);
	if (n <= old)
		return p;
	void *q = malloc(n);
	if (!q)
		return NULL;
	memcpy(q, p, old);
	dms_secmem_free(p);
	return q;
}

char *dms_secmem_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

unsigned long dms_secmem_frees(void) { return n_frees; }

int dms_secmem_install(void)
{
	static bool done;
	if (done)
		return 0;
	json_set_alloc_funcs(dms_secmem_malloc, dms_secmem_free);
	if (curl_global_init_mem(CURL_GLOBAL_DEFAULT, dms_secmem_malloc, dms_secmem_free, dms_secmem_realloc,
				 dms_secmem_strdup, dms_secmem_calloc) != CURLE_OK)
		return -EIO;
	done = true;
	return 0;
}
