/* dmscale member label: on-disk codec (pure, no syscalls). See docs/FORMAT.md. */
#ifndef DMSCALE_LABEL_H
#define DMSCALE_LABEL_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include "dmscale/units.h"

#define DMS_LABEL_VERSION        1                    /* written when no v2 field is used */
#define DMS_LABEL_VERSION_2      2                    /* member kinds, stripe, recreate lineage */
#define DMS_LABEL_VERSION_MAX    DMS_LABEL_VERSION_2  /* highest version this build reads */
#define DMS_LABEL_COPY_BYTES     (64 * KIB)          /* one copy, on disk */
#define DMS_LABEL_COPY_A_OFFSET  0ULL                 /* bytes from device start */
#define DMS_LABEL_COPY_B_OFFSET  (64 * KIB)
#define DMS_LABEL_READ_BYTES     (20 * KIB)          /* what a reader reads of a copy: any
                                                        valid label (<= 16896 bytes), 4 KiB aligned */
#define DMS_DATA_ALIGN_BYTES     MIB                  /* data offsets are 1 MiB aligned */
#define DMS_DATA_OFFSET_BYTES    MIB                  /* first data byte on a member */
#define DMS_MIN_DEVICE_BYTES     GIB                  /* smallest device accepted (EBS minimum) */
#define DMS_MAX_MEMBERS          128
#define DMS_POOL_NAME_MAX        48                   /* including NUL */
#define DMS_VOLUME_ID_MAX        32                   /* including NUL: "vol-" + 17 hex */
#define DMS_FSTYPE_MAX           16

enum dms_target { DMS_TARGET_LINEAR = 1, DMS_TARGET_THIN = 2 };

/* What kind of device a member is (label v2; v1 members are all EBS). */
enum dms_member_kind { DMS_KIND_EBS = 0, DMS_KIND_INSTANCE_STORE = 1 };

/* dm-stripe over the first stripe_count members (label v2, docs/FORMAT.md). */
#define DMS_MAX_STRIPE           16
#define DMS_STRIPE_CHUNK_MIN     (4 * KIB)
#define DMS_STRIPE_CHUNK_MAX     (1 * GIB)

struct dms_member {
	uint8_t uuid[16];
	char volume_id[DMS_VOLUME_ID_MAX];   /* "" if not an EBS volume */
	bytes_t size_bytes;                  /* whole device size when it joined */
	bytes_t data_offset_bytes;           /* 1 MiB aligned */
	bytes_t data_bytes;                  /* multiple of 1 MiB */
	uint32_t kind;                       /* enum dms_member_kind (v2; 0 in v1) */
};

struct dms_label {
	uint32_t version;
	uint64_t generation;                 /* +1 on every change of the member list */
	uint8_t pool_uuid[16];
	uint8_t member_uuid[16];             /* this device */
	uint32_t member_index;               /* this device's index in members[] */
	char pool_name[DMS_POOL_NAME_MAX];
	char fs_type[DMS_FSTYPE_MAX];        /* "ext4" | "xfs" | "btrfs" */
	uint32_t target;                     /* enum dms_target */
	uint64_t created_unix;               /* seconds, informative only */
	/* dm-thin mode only (0 otherwise): metadata area on member 0. */
	bytes_t thin_meta_offset_bytes;
	bytes_t thin_meta_bytes;
	bytes_t thin_virtual_bytes;
	bytes_t thin_meta_active_bytes;      /* metadata device length in use (<= thin_meta_bytes) */
	/* v2 (all zero / lineage = pool_uuid in a v1 label): */
	uint32_t stripe_count;               /* 0, or 2..DMS_MAX_STRIPE leading members striped */
	bytes_t stripe_chunk_bytes;          /* stripe chunk (power of two), 0 without a stripe */
	uint8_t lineage_uuid[16];            /* pool uuid of the first incarnation (recreate) */
	uint32_t recreate_epoch;             /* 0 at init, +1 on every scratch recreate */
	uint32_t member_count;
	struct dms_member members[DMS_MAX_MEMBERS];
};

/* The pool's lineage: lineage_uuid, or pool_uuid when it is zero (v1, or a
 * first incarnation). */
void dms_label_lineage(const struct dms_label *l, uint8_t out[16]);
/* The lowest version that can carry l (1 unless a v2 field is used). */
uint32_t dms_label_min_version(const struct dms_label *l);

/* Encode one copy (copy 0 = A, 1 = B) into buf[DMS_LABEL_COPY_BYTES]. The copy
 * number is recorded in the copy and checked on decode. Validates the label
 * first (dms_label_validate); returns 0 or -EINVAL / -ENOSPC (buflen too small). */
int dms_label_encode(const struct dms_label *l, unsigned copy, uint8_t *buf, size_t buflen);

/* Decode one copy. Returns 0, or
 *   -ENODATA         no dmscale magic (not a member; e.g. blank device)
 *   -EBADMSG         magic present but checksum wrong (torn/corrupt write)
 *   -EPROTONOSUPPORT magic present but a version this build cannot read
 *   -EINVAL          checksum ok but contents inconsistent (hostile/buggy)
 *   -EMSGSIZE        buflen shorter than the encoded size (truncated)
 * Never reads past buflen, whatever the fields say. */
int dms_label_decode(const uint8_t *buf, size_t buflen, unsigned copy, struct dms_label *out);

/* Pick the label of a device from its two copies (either may be NULL if the
 * read failed): the valid copy with the highest generation. *copies_ok gets a
 * bitmask (1 = A valid, 2 = B valid; plus DMS_COPY_A_STALE or DMS_COPY_B_STALE
 * when both are valid but one carries an older generation, which must be
 * rewritten like a torn copy). Returns 0, or the decode error of copy A
 * when neither is valid (so -ENODATA means "no label at all"). If the copies are
 * valid but disagree about the pool uuid or member uuid, returns -EUCLEAN, unless
 * they share a lineage (v2) with different recreate epochs: then the higher
 * epoch wins and the other copy is marked stale (an interrupted recreate). */
#define DMS_COPY_A_STALE 4u
#define DMS_COPY_B_STALE 8u
int dms_label_pick(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
		   struct dms_label *out, unsigned *copies_ok);

/* True when r, an error of dms_label_decode or dms_label_pick, says the label
 * area was read and holds a dmscale label that cannot be used (torn, corrupt,
 * inconsistent, or a newer version); false for "no label" (-ENODATA) and for
 * every error of the read itself (I/O error, timeout, stuck device). */
bool dms_label_error_is_content(int r);

/* Structural checks: version, name non-empty and NUL-terminated with only
 * [A-Za-z0-9_.-], member_count in 1..DMS_MAX_MEMBERS, member_index < count,
 * members[member_index].uuid == member_uuid, no duplicate member uuids,
 * offsets aligned, offset + data <= size, data_bytes > 0, volume ids either ""
 * or "vol-" + hex, target known, fs_type known, thin fields consistent. */
int dms_label_validate(const struct dms_label *l);

/* Pure: does the device that carries `l` hold the member entry its own label
 * describes (size_bytes, hence its data area, fits in device_bytes)? A device
 * that shrank, or a label copied onto a smaller disk, does not. */
bool dms_label_fits_device(const struct dms_label *l, bytes_t device_bytes);

/* Layout a new member: data at DMS_DATA_OFFSET_BYTES (thin: after the metadata
 * area on member 0), data_bytes rounded down to DMS_DATA_ALIGN_BYTES.
 * -ERANGE if the device is smaller than DMS_MIN_DEVICE_BYTES. */
int dms_member_layout(bytes_t device_bytes, bytes_t reserved_after_label_bytes, struct dms_member *m);

/* Sum of data_bytes of all members = the dm-linear target length. */
bytes_t dms_label_data_bytes(const struct dms_label *l);

/* uuid helpers */
void dms_uuid_format(const uint8_t uuid[16], char out[37]);
int dms_uuid_parse(const char *s, uint8_t uuid[16]);

/* "vol0123456789abcdef0" (NVMe serial) -> "vol-0123456789abcdef0"; -EINVAL if
 * the serial is not an EBS volume serial. Trailing spaces are ignored. */
int dms_volume_id_from_serial(const char *serial, char out[DMS_VOLUME_ID_MAX]);

#endif
