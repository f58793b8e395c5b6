"""Recording and hostile disks for the VM test bed: a small NBD server (fixed
newstyle handshake, simple replies) that QEMU's nbd client connects to, so the
guest sees ordinary NVMe disks (serial vol…) whose every request the host sees.

Recording: every WRITE / WRITE_ZEROES / TRIM (offset, data) and every FLUSH
(and the FUA flag of a write) goes, in the order the server executed them, into
one log shared by all exports. Requests on one connection are executed one at a
time, so a FLUSH covers exactly the writes logged before it on that export.

Replay (`Replayer`): the durable state of every disk at a cut point, as a power
cut that loses the volatile write cache leaves it: all writes flushed on that
disk before the cut, every FUA write before the cut, and optionally ("torn") a
random subset of the other unflushed writes, applied in log order.

Hostile exports: `fail` (EIO on reads and/or writes), `hang` (requests block
until released), and a per-export count of write requests (a device dmscale
must not touch can be checked to have received none).
"""
import os
import random
import socket
import struct
import threading

NBDMAGIC = 0x4E42444D41474943
IHAVEOPT = 0x49484156454F5054
REPLY_MAGIC = 0x3E889045565A9
REQ_MAGIC = 0x25609513
SIMPLE_REPLY = 0x67446698

OPT_EXPORT_NAME, OPT_ABORT, OPT_GO, OPT_INFO = 1, 2, 7, 6
REP_ACK, REP_INFO, REP_ERR_UNSUP = 1, 3, (1 << 31) | 1
INFO_EXPORT, INFO_BLOCK_SIZE = 0, 3
F_HAS_FLAGS, F_SEND_FLUSH, F_SEND_FUA, F_SEND_TRIM, F_SEND_WRITE_ZEROES = 1, 4, 8, 32, 64
CMD_READ, CMD_WRITE, CMD_DISC, CMD_FLUSH, CMD_TRIM, CMD_CACHE, CMD_WRITE_ZEROES = 0, 1, 2, 3, 4, 5, 6
CMD_FLAG_FUA = 1
EIO, EINVAL = 5, 22

# FUA_INFERENCE. QEMU's NVMe emulation (7.2) ignores the FUA bit of a write
# command: the guest's queue/fua is 1, yet no write reaches the server with
# NBD_CMD_FLAG_FUA, and an O_DSYNC write through libaio (which the kernel sends
# as a FUA write with no flush after it) arrives as a plain write. Taking those
# writes as volatile would test states a real disk never leaves, so the server
# takes as FUA (durable when done) every write into a label area (the first
# 128 KiB: dmscale's O_DSYNC label writes) and the first write on a disk after
# a FLUSH (the kernel's PREFLUSH|FUA commit writes: jbd2 commit blocks, the
# dm-thin metadata superblock). Making a write durable early gives a state a
# volatile cache can also leave, so this may hide states but invents none.
LABEL_AREA_BYTES = 128 * 1024

# log record kinds
WRITE, ZERO, FLUSH = "W", "Z", "F"


def _recvall(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("peer closed")
        buf += chunk
    return bytes(buf)


class Export:
    def __init__(self, name, path, size_bytes):
        self.name, self.path, self.size_bytes = name, path, size_bytes
        with open(path, "ab") as f:
            if os.fstat(f.fileno()).st_size < size_bytes:
                f.truncate(size_bytes)
        self.fd = os.open(path, os.O_RDWR)
        self.fail_reads = self.fail_writes = False
        self.hang = threading.Event()
        self.hang.set()                # set = not hanging
        self.hang_writes_only = False  # reads answer while writes and flushes hang
        self.writes = 0                # write-type requests received
        self.reads = 0
        self.flushes = 0
        self.fua = 0                   # writes that arrived with NBD_CMD_FLAG_FUA
        self.fua_inferred = 0          # writes taken as FUA (see FUA_INFERENCE)
        self.after_flush = False
        self.lock = threading.Lock()

    def swap(self, path):
        """Serve another image of the same size from now on (the guest must
        hold nothing open on it and drop its caches afterwards)."""
        with self.lock:
            fd = os.open(path, os.O_RDWR)
            os.close(self.fd)
            self.fd, self.path = fd, path


class Server:
    """NBD server on a unix socket, one thread per connection."""

    def __init__(self, sock_path, log_dir):
        self.sock_path, self.log_dir = sock_path, log_dir
        os.makedirs(log_dir, exist_ok=True)
        self.exports = {}
        self.lock = threading.Lock()
        self.log = []                  # (kind, export, offset, length, fua, data_pos)
        self.data = open(os.path.join(log_dir, "writes.data"), "w+b")
        self.data_end = 0
        self.recording = True
        self.infer_fua = True
        if os.path.exists(sock_path):
            os.unlink(sock_path)
        self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.lsock.bind(sock_path)
        self.lsock.listen(16)
        self.conns = []
        self.closed = False
        self.t = threading.Thread(target=self._accept, daemon=True)
        self.t.start()

    def add(self, name, path, size_bytes):
        e = Export(name, path, size_bytes)
        self.exports[name] = e
        return e

    def mark(self):
        """Log position now (cut points are log positions)."""
        with self.lock:
            return len(self.log)

    def close(self):
        self.closed = True
        for e in self.exports.values():
            e.hang.set()
        try:
            self.lsock.close()
        except OSError:
            pass
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
                c.close()
            except OSError:
                pass
        self.data.close()

    # ---- protocol ------------------------------------------------------------
    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _opt_reply(self, c, opt, typ, data=b""):
        c.sendall(struct.pack(">QIII", REPLY_MAGIC, opt, typ, len(data)) + data)

    def _tflags(self):
        return F_HAS_FLAGS | F_SEND_FLUSH | F_SEND_FUA | F_SEND_TRIM | F_SEND_WRITE_ZEROES

    def _serve(self, c):
        try:
            c.sendall(struct.pack(">QQH", NBDMAGIC, IHAVEOPT, 1 | 2))
            cflags, = struct.unpack(">I", _recvall(c, 4))
            export = None
            while export is None:
                magic, opt, ln = struct.unpack(">QII", _recvall(c, 16))
                data = _recvall(c, ln) if ln else b""
                if magic != IHAVEOPT:
                    return
                if opt == OPT_EXPORT_NAME:
                    e = self.exports.get(data.decode())
                    if e is None:
                        return
                    c.sendall(struct.pack(">QH", e.size_bytes, self._tflags()) +
                              (b"" if cflags & 2 else b"\0" * 124))
                    export = e
                elif opt in (OPT_GO, OPT_INFO):
                    nl, = struct.unpack(">I", data[:4])
                    e = self.exports.get(data[4:4 + nl].decode())
                    if e is None:
                        self._opt_reply(c, opt, (1 << 31) | 6)   # NBD_REP_ERR_UNKNOWN
                        continue
                    self._opt_reply(c, opt, REP_INFO, struct.pack(">HQH", INFO_EXPORT, e.size_bytes,
                                                                  self._tflags()))
                    self._opt_reply(c, opt, REP_INFO, struct.pack(">HIII", INFO_BLOCK_SIZE, 1, 4096,
                                                                  32 << 20))
                    self._opt_reply(c, opt, REP_ACK)
                    if opt == OPT_GO:
                        export = e
                elif opt == OPT_ABORT:
                    self._opt_reply(c, opt, REP_ACK)
                    return
                else:
                    self._opt_reply(c, opt, REP_ERR_UNSUP)
            self._transmit(c, export)
        except (ConnectionError, OSError, struct.error):
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass

    def _transmit(self, c, e):
        while True:
            magic, flags, typ, handle, off, ln = struct.unpack(">IHHQQI", _recvall(c, 28))
            if magic != REQ_MAGIC:
                return
            payload = _recvall(c, ln) if typ == CMD_WRITE else b""
            if typ == CMD_DISC:
                return
            if typ != CMD_READ or not e.hang_writes_only:
                e.hang.wait()
            if self.closed:
                return
            with e.lock:
                err, out = self._execute(e, typ, flags, off, ln, payload)
            c.sendall(struct.pack(">IIQ", SIMPLE_REPLY, err, handle) + (out if not err else b""))

    def _execute(self, e, typ, flags, off, ln, payload):
        err, out = 0, b""
        if typ != CMD_FLUSH and typ != CMD_CACHE and off + ln > e.size_bytes:
            err = EINVAL
        elif typ == CMD_READ:
            e.reads += 1
            if e.fail_reads:
                err = EIO
            else:
                out = os.pread(e.fd, ln, off)
                out += b"\0" * (ln - len(out))
        elif typ in (CMD_WRITE, CMD_WRITE_ZEROES, CMD_TRIM):
            e.writes += 1
            if e.fail_writes:
                err = EIO
            else:
                self._write(e, typ, off, ln, payload, bool(flags & CMD_FLAG_FUA))
        elif typ == CMD_FLUSH:
            e.flushes += 1
            if e.fail_writes:
                err = EIO
            else:
                with self.lock:
                    e.after_flush = True
                    if self.recording:
                        self.log.append((FLUSH, e.name, 0, 0, False, -1))
        elif typ == CMD_CACHE:
            pass
        else:
            err = EINVAL
        return err, out

    def _write(self, e, typ, off, ln, payload, fua):
        with self.lock:
            if typ == CMD_WRITE:
                os.pwrite(e.fd, payload, off)
            else:   # WRITE_ZEROES and TRIM read back as zeros here (the guest may not rely on TRIM)
                _zero(e.fd, off, ln)
            if fua:
                e.fua += 1
            elif self.infer_fua and (off < LABEL_AREA_BYTES or e.after_flush):
                fua = True
                e.fua_inferred += 1
            e.after_flush = False
            if not self.recording:
                return
            pos = -1
            if typ == CMD_WRITE:
                pos = self.data_end
                self.data.seek(pos)
                self.data.write(payload)
                self.data_end += len(payload)
            self.log.append((WRITE if typ == CMD_WRITE else ZERO, e.name, off, ln, fua, pos))


def _zero(fd, off, ln):
    try:
        # FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE keeps the file sparse
        import ctypes
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
        if libc.fallocate(fd, 0x02 | 0x01, off, ln) == 0:
            return
    except OSError:
        pass
    step = 1 << 20
    while ln > 0:
        n = min(step, ln)
        os.pwrite(fd, b"\0" * n, off)
        off += n
        ln -= n


def cut_points(log, start, end=None):
    """Log positions after every FLUSH and every FUA write in log[start:end]:
    the states a power cut can leave that differ in what is durable."""
    end = len(log) if end is None else end
    pts = []
    for i in range(start, end):
        kind, _, _, _, fua, _ = log[i]
        if kind == FLUSH or fua:
            pts.append(i + 1)
    if not pts or pts[-1] != end:
        pts.append(end)   # the very end (whatever is flushed by then)
    return pts


class Replayer:
    """Forward pass over a server's log producing durable disk images at
    increasing cut positions. Images are sparse copies under out_dir."""

    def __init__(self, server, out_dir, seed=0):
        self.server, self.out_dir = server, out_dir
        os.makedirs(out_dir, exist_ok=True)
        self.pos = 0
        self.durable = {}
        self.pending = {n: [] for n in server.exports}
        self.rng = random.Random(seed)
        self.datafile = open(os.path.join(server.log_dir, "writes.data"), "rb")
        for n, e in server.exports.items():
            p = os.path.join(out_dir, f"durable.{n}.img")
            with open(p, "wb") as f:
                f.truncate(e.size_bytes)
            self.durable[n] = os.open(p, os.O_RDWR)

    def close(self):
        for fd in self.durable.values():
            os.close(fd)
        self.datafile.close()

    def _apply(self, fd, rec):
        kind, _, off, ln, _, pos = rec
        if kind == WRITE:
            self.datafile.seek(pos)
            os.pwrite(fd, self.datafile.read(ln), off)
        elif kind == ZERO:
            _zero(fd, off, ln)

    def advance(self, cut):
        with self.server.lock:
            self.server.data.flush()
        log = self.server.log
        assert cut >= self.pos
        for i in range(self.pos, cut):
            rec = log[i]
            if rec[0] == FLUSH:
                fd = self.durable[rec[1]]
                for r in self.pending[rec[1]]:
                    self._apply(fd, r)
                self.pending[rec[1]] = []
            else:
                self.pending[rec[1]].append(rec)
        self.pos = cut

    def unflushed(self):
        return {n: len(p) for n, p in self.pending.items()}

    def image(self, cut, name, dest, torn=False):
        """Write the durable image of export `name` at `cut` to dest: flushed
        writes, FUA writes, and (torn) a random subset of the other pending ones.
        Returns the number of pending writes applied."""
        self.advance(cut)
        src = os.path.join(self.out_dir, f"durable.{name}.img")
        os.fsync(self.durable[name])
        if os.path.exists(dest):
            os.unlink(dest)
        _sparse_copy(src, dest)
        fd = os.open(dest, os.O_RDWR)
        n = 0
        try:
            for r in self.pending[name]:
                if r[4] or (torn and self.rng.random() < 0.5):
                    self._apply(fd, r)
                    n += 1
        finally:
            os.close(fd)
        return n


def _sparse_copy(src, dest):
    import subprocess
    subprocess.run(["cp", "--sparse=always", "--reflink=auto", src, dest], check=True)
