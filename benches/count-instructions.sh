#!/usr/bin/env bash
# Instructions per actor operation, stage's and the hand-written tokio
# actor's: each operation runs under callgrind at two counts, and the
# difference is divided by the extra operations (start-up and shutdown
# cancel out). Instruction counts do not vary with the machine's load, so
# two runs of this agree where timings would not.
#
# Usage: benches/count-instructions.sh [OP ...]   (default: all of them)
# Needs valgrind (Debian: apt-get install valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."

ops=("$@")
if [ ${#ops[@]} -eq 0 ]; then
    ops=(tell hand-tell ask hand-ask ask-timeout hand-ask-timeout
         restart restart-spawned spawn-stop hand-spawn-stop)
fi

cargo build -q --release -p stage-benches --example actor_ops
bin=target/release/examples/actor_ops
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

count() { # op n -> instructions of the whole run
    valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$bin" "$1" "$2" 2>&1 |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

printf '%-18s %12s\n' operation instructions/op
for op in "${ops[@]}"; do
    case $op in
        restart*) small=1000 ;;
        spawn-stop | hand-spawn-stop) small=5000 ;;
        *) small=20000 ;;
    esac
    a=$(count "$op" "$small")
    b=$(count "$op" $((2 * small)))
    printf '%-18s %12d\n' "$op" $(((b - a) / small))
done
