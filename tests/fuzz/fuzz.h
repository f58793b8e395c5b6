/* Shared helpers of the libFuzzer harnesses (tests/fuzz/fuzz_*.c): invariant
 * checks that abort (libFuzzer then saves the input), exact-size copies of the
 * input so ASan sees any read past it, and a silent log sink. See docs/FUZZING.md. */
#ifndef DMSCALE_FUZZ_H
#define DMSCALE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dmscale/log.h"

/* An invariant of the parser's contract: on failure print it and abort, so
 * libFuzzer records the input as a crash. */
#define FUZZ_ASSERT(cond)                                                                  \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                           \
		}                                                                          \
	} while (0)

/* A bug the fuzzer found, reported to the code's owner and not fixed yet
 * (docs/FUZZING.md lists them). The harness skips such an input, so that
 * check-fuzz stays green meanwhile, unless DMSCALE_FUZZ_REPORTED=1 is set in
 * the environment: then it aborts like any other failed invariant. Remove the
 * call once the product is fixed. */
#define FUZZ_REPORTED_BUG(id)                                                              \
	do {                                                                               \
		const char *e_ = getenv("DMSCALE_FUZZ_REPORTED");                          \
		if (e_ && *e_ == '1') {                                                    \
			fprintf(stderr, "%s:%d: reported bug %s\n", __FILE__, __LINE__, id); \
			abort();                                                           \
		}                                                                          \
	} while (0)

/* A heap copy of exactly len bytes (no terminator): a parser that reads one
 * byte past its (text, len) argument is caught by ASan. Never NULL. */
static inline uint8_t *fuzz_copy(const uint8_t *data, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);
	if (!p)
		abort();
	if (len)
		memcpy(p, data, len);
	return p;
}

/* A NUL-terminated heap copy for parsers that take a C string. Embedded NULs
 * simply end the string early, as they would for the real caller. */
static inline char *fuzz_cstr(const uint8_t *data, size_t len)
{
	char *p = malloc(len + 1);
	if (!p)
		abort();
	if (len)
		memcpy(p, data, len);
	p[len] = '\0';
	return p;
}

/* Is s NUL-terminated within cap bytes? */
static inline int fuzz_terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

static void fuzz_log_sink(int level, const char *line, void *userdata)
{
	(void)level;
	(void)line;
	(void)userdata;
}

/* Parsers log what they refuse; fuzzing would print millions of lines. The
 * sink still formats every message, so format bugs are still exercised. */
static inline void fuzz_quiet_logs(void)
{
	log_set_sink(fuzz_log_sink, NULL);
	log_set_level(LOG_LVL_DEBUG);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#endif
