/* EBS device names on Nitro: an AMI without /dev/xvdX symlinks still lets the
 * operator say `dmscale init /dev/xvdba`. EBS stores the requested device name
 * in the vendor-specific area of NVMe Identify Controller. Pure parsing here. */
#ifndef DMSCALE_EBSNAME_H
#define DMSCALE_EBSNAME_H
#include <stddef.h>
#include <stdint.h>

#define NVME_IDENTIFY_BYTES      4096
#define EBS_NVME_VID             0x1D0F
#define EBS_NVME_MODEL           "Amazon Elastic Block Store"
#define EBS_VS_DEVNAME_OFFSET    3072
#define EBS_VS_DEVNAME_BYTES     32

/* From an Identify Controller buffer: the block device name EBS was asked for,
 * normalised to "/dev/NAME". 0, -ENODATA (not an EBS controller), -EBADMSG
 * (EBS, but the name area is empty or not a plain device name), -EMSGSIZE. */
int dms_ebs_identify_devname(const uint8_t *id, size_t len, char *out, size_t outlen);

/* Does the requested name ("/dev/xvdba", "xvdba", "/dev/sdf") designate the
 * same EBS attachment as `attached` ("/dev/xvdba", "sdf", …)? xvdX and sdX
 * are aliases, as on Xen instances. 1 or 0. */
int dms_ebs_name_matches(const char *requested, const char *attached);
#endif
