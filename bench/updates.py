#!/usr/bin/env python3
"""Table size under an update-heavy workload: 1 million updates of 10 000 rows, Borealis next to
PostgreSQL 15 (autovacuum on in both, both fully durable).

    python3 bench/updates.py [--rows 10000] [--updates 1000000] [--clients 16]

Each system gets `CREATE TABLE hot (id int4 PRIMARY KEY, v int8, pad text)` with --rows rows of
about 110 bytes; then pgbench runs --updates transactions of
`UPDATE hot SET v = v + 1 WHERE id = :random_id` over --clients clients. Prints the total size
of the table with its indexes (`pg_total_relation_size`) after loading, after the updates, and
after a further 30 s for autovacuum, for both systems; the throughput of the updates; checks that
sum(v) equals the number of updates; writes bench/results/updates.json.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from harness import ROOT, ensure_postgres, psql, run_pgbench, start_borealis, start_postgres

UPDATE = """\\set id random(1, {rows})
UPDATE hot SET v = v + 1 WHERE id = :id;
"""


def scalar(url, sql):
    out = subprocess.run(["psql", url, "-X", "-A", "-t", "-c", sql], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def size(url):
    return int(scalar(url, "SELECT pg_total_relation_size(oid) FROM pg_class WHERE relname = 'hot'"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--updates", type=int, default=1_000_000)
    ap.add_argument("--clients", type=int, default=16)
    args = ap.parse_args()
    ensure_postgres()
    tmp = tempfile.mkdtemp(prefix="borealis-updates-")
    os.chmod(tmp, 0o777)
    stops = []
    per_client = args.updates // args.clients
    total_updates = per_client * args.clients
    try:
        pg_url, stop = start_postgres(tmp)
        stops.append(stop)
        b_url, stop = start_borealis(tmp)
        stops.append(stop)
        script = os.path.join(tmp, "update.sql")
        with open(script, "w") as f:
            f.write(UPDATE.format(rows=args.rows))
        results = {}
        for name, url in (("postgresql", pg_url), ("borealis", b_url)):
            psql(url, "DROP TABLE IF EXISTS hot")
            psql(url, "CREATE TABLE hot (id int4 PRIMARY KEY, v int8 NOT NULL, pad text)")
            psql(url, f"INSERT INTO hot SELECT g, 0, '{'x' * 100}' FROM generate_series(1, {args.rows}) AS g")
            loaded = size(url)
            print(f"{name}: {total_updates} updates of {args.rows} rows over {args.clients} clients ...", flush=True)
            r = run_pgbench(url, ["-n", "-M", "prepared", "-f", script, "-c", str(args.clients),
                                  "-j", str(min(args.clients, 2)), "-t", str(per_client)],
                            os.path.join(tmp, f"log-{name}"), name)
            r.pop("stdout")
            after = size(url)
            time.sleep(30)
            settled = size(url)
            total = int(scalar(url, "SELECT sum(v) FROM hot"))
            if total != total_updates:
                sys.exit(f"{name}: sum(v) = {total}, expected {total_updates}")
            results[name] = dict(r, loaded_bytes=loaded, after_bytes=after, settled_bytes=settled)
        print()
        print(f"{'system':<12}{'loaded KiB':>12}{'after KiB':>12}{'+30 s KiB':>12}{'growth':>9}{'TPS':>10}")
        for name in ("postgresql", "borealis"):
            r = results[name]
            print(f"{name:<12}{r['loaded_bytes'] / 1024:>12.0f}{r['after_bytes'] / 1024:>12.0f}"
                  f"{r['settled_bytes'] / 1024:>12.0f}{r['settled_bytes'] / r['loaded_bytes']:>8.2f}x{r['tps']:>10.0f}")
        pg, bo = results["postgresql"], results["borealis"]
        print(f"Borealis / PostgreSQL: size after {bo['settled_bytes'] / pg['settled_bytes']:.2f}, "
              f"update TPS {bo['tps'] / pg['tps']:.2f}")
        outdir = os.path.join(ROOT, "bench", "results")
        os.makedirs(outdir, exist_ok=True)
        with open(os.path.join(outdir, "updates.json"), "w") as f:
            json.dump({"rows": args.rows, "updates": total_updates, "clients": args.clients, "results": results},
                      f, indent=2)
    finally:
        for stop in reversed(stops):
            stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
