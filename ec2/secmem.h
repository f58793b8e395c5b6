/* Wipe-on-free allocators for the libraries that hold our secrets in their
 * own heap buffers: libcurl (request headers with the session token and the
 * IMDS token, its request buffers) and jansson (the IMDS credential document:
 * AccessKeyId, SecretAccessKey, Token, and the parser's token buffer). Every
 * block they free or move is zeroed first (explicit_bzero over its
 * malloc_usable_size), so no secret is left in freed memory. */
#ifndef DMSCALE_EC2_SECMEM_H
#define DMSCALE_EC2_SECMEM_H
#include <stddef.h>

void *dms_secmem_malloc(size_t n);
void *dms_secmem_calloc(size_t n, size_t size);
void *dms_secmem_realloc(void *p, size_t n);
char *dms_secmem_strdup(const char *s);
void dms_secmem_free(void *p);
/* Zero the whole heap block p (its usable size), without freeing it. */
void dms_secmem_wipe(void *p);
/* Blocks wiped and freed so far (for tests). */
unsigned long dms_secmem_frees(void);

/* Install for jansson (json_set_alloc_funcs) and libcurl
 * (curl_global_init_mem, which also initialises libcurl). Idempotent.
 * 0 or -EIO. */
int dms_secmem_install(void);

#endif
