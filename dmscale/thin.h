/* dm-thin planning (pure, no syscalls): sizes, tables, pool status parsing.
 *
 * Layout of a thin pool (see docs/DESIGN.md, "dm-thin mode"):
 *   dmscale-NAME-tmeta  dm-linear over the metadata area on member 0
 *                       (thin_meta_active_bytes of the thin_meta_bytes reserved)
 *   dmscale-NAME-tdata  dm-linear over every member's data area (as linear mode)
 *   dmscale-NAME-tpool  thin-pool tmeta tdata
 *   dmscale-NAME        thin volume id 0 of thin_virtual_bytes: the filesystem
 */
#ifndef DMSCALE_THIN_H
#define DMSCALE_THIN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "dmscale/label.h"
#include "dmscale/units.h"

/* Data block size: 512 KiB. Large enough that the metadata for a 16 TiB pool
 * stays ~2 GiB (64 bytes per block) and that a new block costs one mapping
 * per 128 filesystem blocks; small enough that fstrim/discard of freed files
 * returns space (only whole blocks are unmapped). */
#define DMS_THIN_BLOCK_BYTES      (512 * KIB)
#define DMS_THIN_META_BLOCK_BYTES (4 * KIB)   /* kernel metadata block size */
#define DMS_THIN_META_MIN_BYTES   (8 * MIB)   /* the kernel docs' 2 MiB floor, with room */
#define DMS_THIN_META_MAX_BYTES   (15 * GIB)  /* kernel limit is ~15.9 GiB */
#define DMS_THIN_DEFAULT_VIRTUAL  (16 * TIB)
#define DMS_THIN_DEV_ID           0           /* the one thin volume */
#define DMS_THIN_TRANSACTION_READY 1          /* pool transaction id once the volume exists */

/* "512G", "16T", "1048576" (bytes), "1.5T": K/M/G/T/P are powers of 1024,
 * optional trailing "iB"/"B". -EINVAL on anything else, -ERANGE on overflow. */
int dms_parse_size(const char *s, bytes_t *out);

/* Metadata needed for data_bytes of pool data: the kernel documentation's rule
 * of thumb is 48 bytes per data block; we use 64 (lvmthin's estimate, a third
 * more for btree slack), 1 MiB aligned, at least DMS_THIN_META_MIN_BYTES.
 * 16 TiB of data at 512 KiB blocks -> 2 GiB. */
bytes_t dms_thin_meta_rule_bytes(bytes_t data_bytes);

/* Metadata area to reserve on member 0 for a pool that may reach
 * max_data_bytes: the rule for max_data_bytes, capped at 1/8 of member 0 and
 * at DMS_THIN_META_MAX_BYTES. -ERANGE if not even DMS_THIN_META_MIN_BYTES fits. */
int dms_thin_meta_reserve(bytes_t device_bytes, bytes_t max_data_bytes, bytes_t *reserve_bytes);

/* Metadata device length for data_bytes of data: the rule for 4× the data
 * (room for the next attaches), never less than current_active (it only
 * grows), never more than reserve. */
bytes_t dms_thin_meta_active_for(bytes_t data_bytes, bytes_t reserve_bytes, bytes_t current_active_bytes);

/* Next metadata length when usage is high: double, within the reserve.
 * Returns current when already at the reserve. */
bytes_t dms_thin_meta_grow(bytes_t current_active_bytes, bytes_t reserve_bytes);

/* Low water mark, in data blocks: free space below max(low_bytes,
 * data_bytes × low_percent / 100) raises a dm event; at least 1 block, at
 * most the pool's blocks - 1. */
uint64_t dms_thin_low_water_blocks(bytes_t data_bytes, bytes_t low_bytes, double low_percent);

/* thin-pool table params: "META_MAJ:MIN DATA_MAJ:MIN BLOCK_SECTORS LWM 1 skip_block_zeroing". */
int dms_thin_pool_params(unsigned meta_major, unsigned meta_minor, unsigned data_major, unsigned data_minor,
			 uint64_t low_water_blocks, char *out, size_t outlen);
/* thin table params: "POOL_MAJ:MIN 0". */
int dms_thin_volume_params(unsigned pool_major, unsigned pool_minor, char *out, size_t outlen);

enum dms_thin_mode { DMS_THIN_RW = 0, DMS_THIN_RO, DMS_THIN_OUT_OF_DATA, DMS_THIN_FAIL };

struct dms_thin_pool_status {
	uint64_t transaction_id;
	uint64_t meta_used_blocks, meta_total_blocks;     /* 4 KiB blocks */
	uint64_t data_used_blocks, data_total_blocks;     /* DMS_THIN_BLOCK_BYTES blocks */
	enum dms_thin_mode mode;
	bool discard_passdown;
	bool error_if_no_space;
	bool needs_check;
};

/* Parse the thin-pool status line (Documentation/admin-guide/device-mapper/
 * thin-provisioning.rst): "<trans id> <used meta>/<total meta> <used data>/
 * <total data> <held root> ro|rw|out_of_data_space [no_]discard_passdown
 * error|queue_if_no_space needs_check|- [meta low water]" or "Fail".
 * -EINVAL on anything else. */
int dms_thin_parse_pool_status(const char *params, struct dms_thin_pool_status *st);
const char *dms_thin_mode_name(enum dms_thin_mode m);

#endif
