/* Logging in the style of systemd's log_error_errno: every error path logs one
 * line that names the object, the reason and what to do, and returns -errno. */
#ifndef DMSCALE_LOG_H
#define DMSCALE_LOG_H

#include <errno.h>
#include <stdarg.h>

enum log_level { LOG_LVL_ERR = 3, LOG_LVL_WARN = 4, LOG_LVL_NOTICE = 5, LOG_LVL_INFO = 6, LOG_LVL_DEBUG = 7 };

void log_set_level(int level);
int log_get_level(void);
/* When stderr is not a tty (journald), prefix lines with <N> priorities. */
void log_set_journal_prefix(int on);
/* Unit tests capture log lines instead of printing them. */
typedef void (*log_sink_fn)(int level, const char *line, void *userdata);
void log_set_sink(log_sink_fn fn, void *userdata);

/* Returns -abs(err) (or -EIO if err is 0) so callers can `return log_error_errno(...)`. */
int log_internal(int level, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_error(...)   (void)log_internal(LOG_LVL_ERR, 0, __VA_ARGS__)
#define log_warning(...) (void)log_internal(LOG_LVL_WARN, 0, __VA_ARGS__)
#define log_notice(...)  (void)log_internal(LOG_LVL_NOTICE, 0, __VA_ARGS__)
#define log_info(...)    (void)log_internal(LOG_LVL_INFO, 0, __VA_ARGS__)
#define log_debug(...)   (void)log_internal(LOG_LVL_DEBUG, 0, __VA_ARGS__)
#define log_error_errno(err, ...)   log_internal(LOG_LVL_ERR, (err), __VA_ARGS__)
#define log_warning_errno(err, ...) log_internal(LOG_LVL_WARN, (err), __VA_ARGS__)

#endif
