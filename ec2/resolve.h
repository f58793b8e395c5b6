#ifndef DMSCALE_RESOLVE_H
#define DMSCALE_RESOLVE_H
#include <stddef.h>
/* Turn the device the operator named into a block device node. An existing
 * path is used as is. A missing /dev/xvdX or /dev/sdX (Nitro AMIs without EBS
 * symlinks) is resolved (1) by the device name EBS stores in NVMe Identify
 * Controller, else (2) through EC2 DescribeInstances block device mappings ->
 * volume id -> NVMe serial. */
int dms_resolve_device(const char *requested, char *out, size_t outlen);
/* The part of it without the EC2 side (resolve_local.c, linked by the
 * command-line front too): 0 with an existing path in out, -EXDEV for a
 * missing /dev/xvdX or /dev/sdX (Identify data or EC2 may know it), or
 * -ENOENT / -ENAMETOOLONG (logged). */
int dms_resolve_local(const char *requested, char *out, size_t outlen);
/* The NVMe namespace whose controller serial is the volume id ("vol-0ab…" ->
 * serial "vol0ab…"): "/dev/nvme3n1". 0, -ENOENT, -EINVAL. */
int dms_nvme_node_by_volume_id(const char *volume_id, char *out, size_t outlen);
#endif
