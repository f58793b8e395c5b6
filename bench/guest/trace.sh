#!/bin/sh
# Reference fill trace (cost figure): $2 large sequential O_DIRECT writers of $3 MiB
# each, and one writer of $4 small files of $5 KiB, all at once, into $1.
# Prints the number of failed writes (ENOSPC or other) as "errors N".
mp=$1 nbig=$2 bigmib=$3 nsmall=$4 smallkib=$5
mkdir -p "$mp/trace"
i=0
while [ $i -lt "$nbig" ]; do
	( dd if=/dev/zero of="$mp/trace/big$i" bs=1M count="$bigmib" oflag=direct status=none 2>/dev/null \
	  || echo x >> "$mp/trace/.err" ) &
	i=$((i+1))
done
python3 - "$mp/trace" "$nsmall" "$smallkib" <<'PY' || echo x >> "$1/trace/.err"
import os, sys
d, n, kib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = os.urandom(kib * 1024)
os.makedirs(d + "/small", exist_ok=True)
for i in range(n):
    with open(f"{d}/small/f{i:06d}", "wb") as f:
        f.write(data)
    if i % 64 == 63:
        os.sync()
PY
wait
sync
echo "errors $(cat "$mp/trace/.err" 2>/dev/null | wc -l)"
