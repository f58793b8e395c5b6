"""An independent reader and writer of the dmscale label (docs/FORMAT.md, v1
and v2: member kinds, the instance-store stripe, the recreate lineage),
written from the document, for host-side checks of disk images and for
crafting hostile labels. Not shared with the C codec on purpose."""
import struct
import uuid as uuidlib

MAGIC = b"DMSCALE_LABEL\0\0\0"
COPY_BYTES = 64 * 1024
MIB = 1 << 20


def _crc32c_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


_T = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _T[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


def _cstr(b):
    return b.split(b"\0", 1)[0].decode(errors="replace")


def decode(buf, copy):
    """One copy -> dict, or a string naming why it is not valid (FORMAT §5.1)."""
    if len(buf) < 16 or buf[:16] != MAGIC:
        return "blank" if not any(buf[:512]) else "no magic"
    version, label_len, crc, cp = struct.unpack_from("<IIII", buf, 16)
    if version not in (1, 2):
        return f"version {version}"
    if not 512 <= label_len <= COPY_BYTES or len(buf) < label_len:
        return f"bad label_len {label_len}"
    body = bytearray(buf[:label_len])
    body[24:28] = b"\0\0\0\0"
    if crc32c(bytes(body)) != crc:
        return "bad checksum"
    if cp != copy:
        return f"copy {cp} at slot {copy}"
    gen, = struct.unpack_from("<Q", buf, 32)
    pool_uuid, member_uuid = bytes(buf[40:56]), bytes(buf[56:72])
    idx, count = struct.unpack_from("<II", buf, 72)
    if not 1 <= count <= 128 or label_len != 512 + 128 * count or idx >= count:
        return "bad member_count/index"
    target, = struct.unpack_from("<I", buf, 144)
    thin = struct.unpack_from("<QQQQ", buf, 160)
    # v2 (§2.1, §2.2): in v1 these bytes are reserved and ignored
    v2 = version >= 2
    stripe_count, = struct.unpack_from("<I", buf, 192) if v2 else (0,)
    stripe_chunk, = struct.unpack_from("<Q", buf, 200) if v2 else (0,)
    lineage = bytes(buf[208:224]) if v2 else bytes(16)
    epoch, = struct.unpack_from("<I", buf, 224) if v2 else (0,)
    members = []
    for i in range(count):
        o = 512 + 128 * i
        size, doff, dbytes = struct.unpack_from("<QQQ", buf, o + 48)
        kind, = struct.unpack_from("<I", buf, o + 72) if v2 else (0,)
        members.append({"uuid": bytes(buf[o:o + 16]), "volume_id": _cstr(buf[o + 16:o + 48]),
                        "size_bytes": size, "data_offset_bytes": doff, "data_bytes": dbytes,
                        "kind": kind})
    return {"version": version, "generation": gen, "pool_uuid": pool_uuid, "member_uuid": member_uuid,
            "member_index": idx, "member_count": count, "pool_name": _cstr(buf[80:128]),
            "fs_type": _cstr(buf[128:144]), "target": target, "thin": thin, "members": members,
            "stripe_count": stripe_count, "stripe_chunk_bytes": stripe_chunk,
            "lineage_uuid": lineage if any(lineage) else pool_uuid, "recreate_epoch": epoch,
            "raw": bytes(buf[:label_len])}


KIND_EBS, KIND_INSTANCE_STORE = 0, 1


def read_image(path):
    """(copy A, copy B) of an image file, each a dict or a reason string."""
    with open(path, "rb") as f:
        a = f.read(COPY_BYTES)
        b = f.read(COPY_BYTES)
    return decode(a, 0), decode(b, 1)


def encode(copy, generation, pool_uuid, member_uuid, member_index, pool_name, fs_type, target,
           members, created=1700000000, thin=(0, 0, 0, 0), version=1, stripe=(0, 0), lineage=None,
           epoch=0, kinds=None):
    """One copy (label_len bytes). members: list of (uuid16, volume_id, size, data_off, data_bytes).
    version 2: stripe (count, chunk_bytes), lineage (16 bytes, None: zero), epoch, kinds (per member)."""
    n = len(members)
    label_len = 512 + 128 * n
    b = bytearray(label_len)
    b[0:16] = MAGIC
    struct.pack_into("<IIII", b, 16, version, label_len, 0, copy)
    if version >= 2:
        struct.pack_into("<I", b, 192, stripe[0])
        struct.pack_into("<Q", b, 200, stripe[1])
        b[208:224] = lineage or bytes(16)
        struct.pack_into("<I", b, 224, epoch)
        for i, k in enumerate(kinds or []):
            struct.pack_into("<I", b, 512 + 128 * i + 72, k)
    struct.pack_into("<Q", b, 32, generation)
    b[40:56] = pool_uuid
    b[56:72] = member_uuid
    struct.pack_into("<II", b, 72, member_index, n)
    b[80:80 + len(pool_name)] = pool_name.encode()
    b[128:128 + len(fs_type)] = fs_type.encode()
    struct.pack_into("<I", b, 144, target)
    struct.pack_into("<Q", b, 152, created)
    struct.pack_into("<QQQQ", b, 160, *thin)
    for i, (mu, vol, size, doff, dbytes) in enumerate(members):
        o = 512 + 128 * i
        b[o:o + 16] = mu
        b[o + 16:o + 16 + len(vol)] = vol.encode()
        struct.pack_into("<QQQ", b, o + 48, size, doff, dbytes)
    struct.pack_into("<I", b, 24, crc32c(bytes(b)))
    return bytes(b)


def write_label(path, **kw):
    """Write both copies (A at 0, B at 64 KiB) into an image file."""
    with open(path, "r+b") as f:
        for copy in (0, 1):
            f.seek(copy * COPY_BYTES)
            f.write(encode(copy, **kw).ljust(COPY_BYTES, b"\0"))


def new_uuid():
    return uuidlib.uuid4().bytes
