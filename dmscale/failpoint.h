/* Test-only failpoints: compiled in only with -DDMS_TESTING (make TESTING=1). */
#ifndef DMSCALE_FAILPOINT_H
#define DMSCALE_FAILPOINT_H
#ifdef DMS_TESTING
/* A step name, kept only in test builds. */
#define DMS_FP(name) (name)
/* Stop at a named step (env DMSCALE_FAILPOINT or the file
 * /run/dmscale/failpoint.arm) so a test can cut the power there. */
void dms_failpoint(const char *name);
#else
#define DMS_FP(name) ((const char *)0)
/* A macro, not an inline function: not even its name reaches the binary's
 * debug information. */
#define dms_failpoint(name) ((void)(name))
#endif
#endif
