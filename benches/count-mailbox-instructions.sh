#!/usr/bin/env bash
# Instructions per message through the mailbox and its peers, one producer
# task and one consumer task on a current_thread runtime: each channel runs
# under callgrind at two message counts, and the difference is divided by
# the extra messages (start-up and shutdown cancel out). Instruction counts
# do not vary with the machine's load, so two runs of this agree where
# timings would not. `ring` is the mailbox's try_send and try_recv from one
# thread (its ring and checks, no tasks), `queue` concurrent-queue pushed
# and popped the same way: the floors. A second table gives the task polls
# per message (each a task switch, which the runtime pays for, not the
# channel), counted without valgrind.
#
# Usage: benches/count-mailbox-instructions.sh [CAPACITY ...]   (default: 1024 16 1)
# PAIRS=4 benches/count-mailbox-instructions.sh ... counts MPMC instead:
# 4 producer tasks and 4 consumer tasks (the channels with cloneable
# receivers only).
# Needs valgrind (Debian: apt-get install valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."

capacities=("$@")
if [ ${#capacities[@]} -eq 0 ]; then
    capacities=(1024 16 1)
fi
pairs=${PAIRS:-1}
channels=(stage stage-guarded kanal flume tokio ring queue)
async_channels=(stage stage-guarded kanal flume tokio)
if [ "$pairs" -ne 1 ]; then
    channels=(stage stage-guarded kanal flume)
    async_channels=("${channels[@]}")
fi

cargo build -q --release -p stage-benches --example mailbox_ops
bin=target/release/examples/mailbox_ops
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

count() { # channel capacity n -> instructions of the whole run
    valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$bin" "$1" "$2" "$3" "$pairs" 2>&1 |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

small=20000
printf '%-9s' capacity
printf ' %14s' "${channels[@]}"
printf '\n'
for capacity in "${capacities[@]}"; do
    printf '%-9s' "$capacity"
    for channel in "${channels[@]}"; do
        a=$(count "$channel" "$capacity" "$small")
        b=$(count "$channel" "$capacity" $((2 * small)))
        printf ' %14d' $(((b - a) / small))
    done
    printf '\n'
done

printf '\ntask polls per message\n%-9s' capacity
printf ' %14s' "${async_channels[@]}"
printf '\n'
for capacity in "${capacities[@]}"; do
    printf '%-9s' "$capacity"
    for channel in "${async_channels[@]}"; do
        printf ' %14s' "$("$bin" "$channel" "$capacity" "$small" "$pairs" 2>&1 | sed -n 's/.*per message: //p')"
    done
    printf '\n'
done
