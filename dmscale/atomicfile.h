/* Replacing a file atomically and durably: a temporary file in the same
 * directory, written in full, fsync'd, renamed over the old one, and the
 * directory fsync'd. A reader sees the old contents or the new, never a mix,
 * and after a power cut the file is one of the two. */
#ifndef DMSCALE_ATOMICFILE_H
#define DMSCALE_ATOMICFILE_H
#include <stddef.h>
#include <sys/types.h>

/* Write len bytes of data as `path` with permissions `mode`. 0 or -errno
 * (nothing is left behind on failure: the temporary file is removed). */
int dms_atomic_write(const char *path, const void *data, size_t len, mode_t mode);
/* Write all of data to fd (retrying short writes and EINTR). 0 or -errno;
 * -EIO if the file takes no more bytes. */
int dms_write_all(int fd, const void *data, size_t len);
#endif
