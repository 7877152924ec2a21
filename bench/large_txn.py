#!/usr/bin/env python3
"""One huge transaction: a single COPY of 10 million rows, Borealis next to PostgreSQL 15.

    python3 bench/large_txn.py [--rows 10000000]

Each system gets `CREATE TABLE big (id int8 PRIMARY KEY, n int8, pad text)` and one
`COPY big FROM STDIN` of --rows rows (about 130 bytes each) streamed through psql, as one
transaction; both fully durable. Prints the time and rows/s of each, the Borealis / PostgreSQL
ratio, and the Borealis writer's peak resident memory next to the size of the data (the writer
spills the transaction's writes into pages instead of holding them); checks the row count and a
checksum on both; writes bench/results/large_txn.json.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from harness import (ROOT, borealis_writer_pid, ensure_postgres, peak_memory_kib, psql,
                     start_borealis, start_postgres)


def rows(n):
    chunk = []
    for i in range(1, n + 1):
        chunk.append(f"{i}\t{i * 7}\t{i:0>100}\n")
        if len(chunk) == 10000:
            yield "".join(chunk).encode()
            chunk = []
    if chunk:
        yield "".join(chunk).encode()


def scalar(url, sql):
    out = subprocess.run(["psql", url, "-X", "-A", "-t", "-c", sql], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def copy(url, n, pid):
    psql(url, "DROP TABLE IF EXISTS big")
    psql(url, "CREATE TABLE big (id int8 PRIMARY KEY, n int8, pad text)")
    before = peak_memory_kib(pid) if pid else None
    peak = [before or 0]
    done = threading.Event()

    def sample():
        while not done.wait(0.5):
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            peak[0] = max(peak[0], int(line.split()[1]))
            except OSError:
                return

    if pid:
        threading.Thread(target=sample, daemon=True).start()
    start = time.time()
    p = subprocess.Popen(["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", "COPY big FROM STDIN"],
                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for chunk in rows(n):
        p.stdin.write(chunk)
    p.stdin.close()
    err = p.stderr.read().decode()
    if p.wait() != 0:
        sys.exit(f"COPY failed: {err}")
    seconds = time.time() - start
    done.set()
    after = peak_memory_kib(pid) if pid else None
    count = int(scalar(url, "SELECT count(*) FROM big"))
    total = int(scalar(url, "SELECT sum(n) FROM big"))
    if count != n or total != 7 * n * (n + 1) // 2:
        sys.exit(f"wrong contents after COPY: {count} rows, sum {total}")
    return {
        "seconds": seconds,
        "rows_per_s": n / seconds,
        "writer_rss_kib_before": before,
        "writer_rss_kib_peak": max(peak[0], after or 0) if pid else None,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    args = ap.parse_args()
    ensure_postgres()
    tmp = tempfile.mkdtemp(prefix="borealis-large-txn-")
    os.chmod(tmp, 0o777)
    stops = []
    try:
        pg_url, stop = start_postgres(tmp)
        stops.append(stop)
        b_url, stop = start_borealis(tmp)
        stops.append(stop)
        pid = borealis_writer_pid(b_url)
        data_kib = sum(len(c) for c in rows(min(args.rows, 100_000))) * args.rows // min(args.rows, 100_000) // 1024
        results = {}
        for name, url, p in (("postgresql", pg_url, None), ("borealis", b_url, pid)):
            print(f"COPY of {args.rows} rows into {name} ...", flush=True)
            results[name] = copy(url, args.rows, p)
        pg, bo = results["postgresql"], results["borealis"]
        print()
        print(f"rows: {args.rows}, COPY data: {data_kib / 1024:.0f} MiB")
        print(f"{'system':<12}{'seconds':>10}{'rows/s':>12}")
        for name in ("postgresql", "borealis"):
            r = results[name]
            print(f"{name:<12}{r['seconds']:>10.1f}{r['rows_per_s']:>12.0f}")
        print(f"Borealis / PostgreSQL rows/s: {bo['rows_per_s'] / pg['rows_per_s']:.2f}")
        if bo["writer_rss_kib_peak"]:
            print(f"Borealis writer resident memory: {bo['writer_rss_kib_before'] / 1024:.0f} MiB before, "
                  f"{bo['writer_rss_kib_peak'] / 1024:.0f} MiB at peak "
                  f"({bo['writer_rss_kib_peak'] / data_kib:.2f} of the data size)")
        outdir = os.path.join(ROOT, "bench", "results")
        os.makedirs(outdir, exist_ok=True)
        with open(os.path.join(outdir, "large_txn.json"), "w") as f:
            json.dump({"rows": args.rows, "data_kib": data_kib, "results": results}, f, indent=2)
    finally:
        for stop in reversed(stops):
            stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
