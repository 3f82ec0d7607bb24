#!/usr/bin/env python3
"""The mailbox's throughput against each peer, from the last criterion run.

Reads target/criterion/mailbox_<runtime>_<scenario>/<channel>/new/estimates.json
(criterion's directories for the groups `mailbox/<runtime>/<scenario>` of
`cargo bench -p stage-benches --bench mailbox`) and prints, per
scenario, the ratio of stage's throughput to each peer's: above 1 means
stage is faster. Each ratio compares two medians of one run, so a noisy
machine moves both figures together.

Usage: python3 benches/mailbox-ratios.py [CRITERION_DIR]
"""

import json
import sys
from pathlib import Path

PEERS = ["tokio_mpsc", "async_channel", "flume", "kanal"]
OTHERS = ["stage_guarded", "raw_mailbox_1thread", "raw_concurrent_queue_1thread"]


def median_ns(directory: Path):
    estimates = directory / "new" / "estimates.json"
    if not estimates.exists():
        return None
    return json.loads(estimates.read_text())["median"]["point_estimate"]


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")
    groups = sorted(
        p
        for p in root.glob("mailbox_*")
        if p.is_dir() and (p / "stage").is_dir()
    )
    if not groups:
        sys.exit(f"no mailbox results under {root}: run the mailbox bench first")
    columns = PEERS + OTHERS
    print(f"{'group':40} {'stage ns/iter':>14} " + " ".join(f"{c:>14}" for c in columns))
    for scenario in groups:
        stage = median_ns(scenario / "stage")
        if stage is None:
            continue
        cells = []
        for column in columns:
            other = median_ns(scenario / column)
            # For the guarded receive and the ceilings, the cost relative
            # to stage; for the peers, stage's speed relative to theirs.
            if other is None:
                cells.append("-")
            elif column in PEERS:
                cells.append(f"{other / stage:.2f}")
            else:
                cells.append(f"{other / stage:.2f}x time")
        name = scenario.name.removeprefix("mailbox_")
        print(f"{name:40} {stage:14.0f} " + " ".join(f"{c:>14}" for c in cells))


if __name__ == "__main__":
    main()
