#!/bin/sh
# The seed's detection loop (amazon-ebs-autoscale bin/ebs-autoscale), every $3 s:
#   mode "df":   one `df` fork a tick (the brief's reference);
#   mode "body": the seed's own loop body (df | grep, 4x echo|awk, cut, expr);
#   mode "detect": `df -P` + awk, and on use% >= $4 append the CLOCK_REALTIME to $5
#                  once (until $5.armed is recreated).
mp=$1 mode=$2 interval=$3 thr=${4:-90} out=${5:-/dev/null}
while :; do
	case $mode in
	df) df "$mp" >/dev/null ;;
	body)
		STATS=$(df -BG "$mp" | grep -v Filesystem)
		TOTAL_SIZE=$(echo ${STATS} | awk '{print $2}')
		USED=$(echo ${STATS} | awk '{print $3}')
		AVAILABLE=$(echo ${STATS} | awk '{print $4}')
		PCT=$(echo ${STATS} | awk '{print $5}' | cut -d"%" -f1 -)
		LOG_COUNT=$(expr 1 + 1) ;;
	detect)
		PCT=$(df -P "$mp" | awk 'NR==2 {sub("%", "", $5); print $5}')
		if [ "$PCT" -ge "$thr" ] && [ -e "$out.armed" ]; then
			rm -f "$out.armed"; date +%s.%N >> "$out"
		fi ;;
	esac
	sleep "$interval"
done
