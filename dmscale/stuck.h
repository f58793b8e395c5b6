/* Devices with an I/O stuck past its deadline, told to the other dmscale
 * processes of the machine.
 *
 * A process whose AIO request to a device missed its deadline cannot exit
 * before the device answers (the kernel's exit_aio waits for every request
 * in flight), and neither can the next process that reads the same device:
 * with a hung EBS volume every later command would scan it, wait out its
 * deadline under the pool lock, and then hang at exit. So the process that
 * saw the timeout leaves a marker, /run/dmscale/stuck/MAJ:MIN-INO holding
 * "PID STARTTIME"; while that process lives its request may still be in
 * flight, and other processes send the device no I/O (aio.c fails it with
 * -EBUSY at once). The owner removes the marker when the request completes;
 * a marker whose owner is gone (it exited, which it only can once the request
 * completed) is stale and removed by the next reader. Best effort: a marker
 * that cannot be written only costs the next process its deadline. */
#ifndef DMSCALE_STUCK_H
#define DMSCALE_STUCK_H
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#define DMS_STUCK_DIR "/run/dmscale/stuck"

/* Where the markers live (tests); NULL: DMS_STUCK_DIR. */
void dms_stuck_set_dir(const char *dir);
/* The key of the device behind st: (st_rdev, 0) for a block device, else
 * (st_dev, st_ino) (the tests' files). */
void dms_stuck_key(const struct stat *st, dev_t *dev, ino_t *ino);
/* This process has an I/O to (dev, ino) past its deadline. */
void dms_stuck_mark(dev_t dev, ino_t ino);
/* ... not any more (removes the marker only if it is this process's). */
void dms_stuck_clear(dev_t dev, ino_t ino);
/* The pid of ANOTHER live process with an I/O to (dev, ino) past its
 * deadline, or 0 (none, this process, or a stale marker: removed). With a
 * pid, *since_unix (unless NULL) gets when its I/O missed its deadline (the
 * marker's time, seconds since the epoch). */
pid_t dms_stuck_owner(dev_t dev, ino_t ino, time_t *since_unix);
/* Is there any marker at all (or a directory that cannot be read)? false
 * lets a batch skip dms_stuck_owner for each of its devices: one directory
 * read instead of one open per request. */
bool dms_stuck_any(void);
#endif
