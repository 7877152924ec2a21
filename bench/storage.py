#!/usr/bin/env python3
"""Storage tier benchmark: log shipping, quorum commit, cache-miss GetPage@LSN and repair, measured
on six storage processes on this machine and printed next to the Aurora paper's figures.

A driver (crates/volume/examples/storage_bench.rs) starts six storage processes on loopback, opens
the volume, and writes MTRs shaped like the engine's straight through the Volume API (no SQL):

  ship     4 appenders, bounded only by LAL: records/s and MB/s made durable on 4 of 6
  commit   1 and 16 clients: append one row-insert MTR, wait until VDL covers it: p50/p99
  read     pages each written as an Init and three patches, read once at VDL (the node builds
           the page from its log: a cache miss), then again (a node cache hit: the anchor)
  repair   kill -9 one node, delete its data directory, restart it empty on the same port;
           time until its SCL reaches the others' (it refills by gossip from its peers)

    python3 bench/storage.py [--seconds 5] [--pages 2000]

Writes the figures as JSON to bench/results/storage.json.
"""

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The Aurora SIGMOD 2017 paper, section 2.2: "a 10GB segment can be repaired in 10 seconds on a
# 10Gbps network link". It quotes no per-record shipping, commit or page-read figure for the
# storage tier alone (its throughput figures are SysBench statements on the whole database).
AURORA = {
    "repair_mb_per_s": (1000.0, "10 GB segment in ~10 s on 10 Gbps"),
}

ROWS = [
    ("ship_records_per_s", "log shipping, records/s", "{:,.0f}"),
    ("ship_mb_per_s", "log shipping, MB/s", "{:,.1f}"),
    ("ship_record_bytes_avg", "  average record, bytes", "{:,.0f}"),
    ("commit_1_ms_p50", "quorum commit p50, 1 client, ms", "{:.3f}"),
    ("commit_1_ms_p99", "quorum commit p99, 1 client, ms", "{:.3f}"),
    ("commit_1_per_s", "  commits/s, 1 client", "{:,.0f}"),
    ("commit_16_ms_p50", "quorum commit p50, 16 clients, ms", "{:.3f}"),
    ("commit_16_ms_p99", "quorum commit p99, 16 clients, ms", "{:.3f}"),
    ("commit_16_per_s", "  commits/s, 16 clients", "{:,.0f}"),
    ("getpage_miss_ms_p50", "GetPage@LSN cache miss p50, ms", "{:.3f}"),
    ("getpage_miss_ms_p99", "GetPage@LSN cache miss p99, ms", "{:.3f}"),
    ("getpage_hit_ms_p50", "  anchor: node cache hit p50, ms", "{:.3f}"),
    ("getpage_hit_ms_p99", "  anchor: node cache hit p99, ms", "{:.3f}"),
    ("repair_mb", "repair: log of a peer, MB", "{:,.1f}"),
    ("repair_s", "repair: restart to SCL caught up, s", "{:.2f}"),
    ("repair_mb_per_s", "repair throughput, MB/s", "{:,.1f}"),
    ("repair_copy_mb_per_s", "  while copying (node's own log line), MB/s", "{:,.1f}"),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--pages", type=int, default=2000)
    args = ap.parse_args()
    out = os.path.join(ROOT, "bench", "results", "storage.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    cmd = ["cargo", "run", "--release", "-q", "-p", "borealis-volume", "--example", "storage_bench", "--",
           "--seconds", str(args.seconds), "--pages", str(args.pages), "--json", out]
    r = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit(f"the benchmark driver failed:\n{r.stdout}")
    with open(out) as f:
        figures = json.load(f)
    print(f"{'':46} {'Borealis':>12}   Aurora paper")
    for key, label, fmt in ROWS:
        if key not in figures:
            continue
        paper = AURORA.get(key)
        theirs = f"{fmt.format(paper[0])} ({paper[1]})" if paper else "-"
        print(f"{label:46} {fmt.format(figures[key]):>12}   {theirs}")
    print(f"\nfigures written to {os.path.relpath(out, ROOT)}")


if __name__ == "__main__":
    main()
