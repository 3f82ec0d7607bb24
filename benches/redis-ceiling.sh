#!/usr/bin/env bash
# The server's ceiling for what stage-redis asks of it per message, by
# redis-benchmark (Debian's redis-tools, with redis-server): at batch sizes
# 1, 16 and 128, the rate of each command a message costs — XADD (pipelined
# a batch at a time), XREADGROUP of a batch, XACK of a batch, and the
# trim (XTRIM MINID) that follows each batch — and the rate of messages if
# the server did nothing else: one over the sum of the times per message. Compare with `cargo bench -p stage-benches --bench
# redis` (stage-redis at the same batch sizes).
#
# The acknowledgements name IDs that are not pending, and the trims remove
# nothing (redis-benchmark cannot name the IDs it read), so they cost the
# server a little less than real ones: the ceiling is, if anything, high.
# stage-redis trims through a script that first reads the groups' state
# (XINFO GROUPS, XPENDING); the ceiling counts the plain XTRIM.
#
# Usage: benches/redis-ceiling.sh [MESSAGES]   (default 200000)
set -euo pipefail
messages=${1:-200000}

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save "" --appendonly no \
    --logfile "$dir/redis.log" --daemonize yes --pidfile "$dir/redis.pid"
trap 'kill "$(cat "$dir/redis.pid")" 2>/dev/null; rm -rf "$dir"' EXIT
until redis-cli -p "$port" ping > /dev/null 2>&1; do sleep 0.05; done

cli() { redis-cli -p "$port" "$@" > /dev/null; }
# Requests per second of one command: redis-benchmark's CSV, second field.
rate() {
    redis-benchmark -p "$port" --csv "$@" 2> /dev/null | tail -1 | cut -d, -f2 | tr -d '"'
}

printf '%-6s %12s %14s %12s %12s %14s\n' batch 'XADD msg/s' 'XREADGROUP msg/s' 'XACK msg/s' 'XTRIM msg/s' 'ceiling msg/s'
for batch in 1 16 128; do
    cli DEL s
    cli XGROUP CREATE s g 0 MKSTREAM
    xadd=$(rate -n "$messages" -P "$batch" XADD s '*' m 12345)
    reads=$((messages / batch))
    xread=$(rate -n "$reads" XREADGROUP GROUP g c COUNT "$batch" STREAMS s '>')
    ids=$(seq 1 "$batch" | sed 's/^/0-/' | tr '\n' ' ')
    # shellcheck disable=SC2086 # the IDs are separate arguments
    xack=$(rate -n "$reads" XACK s g $ids)
    xtrim=$(rate -n "$reads" XTRIM s MINID 0-1)
    python3 - "$batch" "$xadd" "$xread" "$xack" "$xtrim" <<'EOF'
import sys
batch = int(sys.argv[1])
xadd, xread, xack, xtrim = (float(v) for v in sys.argv[2:])
per_message = [xadd, xread * batch, xack * batch, xtrim * batch]
ceiling = 1 / sum(1 / r for r in per_message)
print(f"{batch:<6} {per_message[0]:12.0f} {per_message[1]:14.0f} {per_message[2]:12.0f} {per_message[3]:12.0f} {ceiling:14.0f}")
EOF
done
