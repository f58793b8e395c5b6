/* The one rule for each name that crosses modules, matching the on-disk
 * label's (docs/FORMAT.md, dmscale/label.c dms_label_validate):
 *   pool name: 1..47 of [A-Za-z0-9_.-], not "." or "..", not starting with '-'
 *              (it becomes a file name, a dm name and an EC2 tag value);
 *   EBS volume id: "vol-" + 17 (or, before 2018, 8) lowercase hex digits.
 * Pure. Written here because ec2/ may not edit dmscale/: meant to move to
 * dmscale/ so that label.c, pending.c and pool.c use it too. */
#ifndef DMSCALE_EC2_NAMES_H
#define DMSCALE_EC2_NAMES_H
#include <stdbool.h>

bool dms_valid_pool_name(const char *s);
bool dms_valid_volume_id(const char *s);

#endif
