#!/usr/bin/env python3
"""INSERT commit latency and throughput: Borealis next to PostgreSQL 15, same machine, same run.

Both are fully durable: PostgreSQL with fsync and synchronous_commit on; Borealis acknowledging a
commit only once four of six storage nodes have it on disk. The load is pgbench with a one-line
INSERT script (prepared protocol) into a table without indexes, so the measurement is the commit
path. Runs alternate between the two systems.

    python3 bench/commit.py [--seconds 10] [--clients 16]

Prints p50/p99 commit latency for one client, throughput for N clients, and the ratios
(Borealis / PostgreSQL); writes the figures as JSON to bench/results/commit.json.
"""

import argparse
import json
import os
import shutil
import tempfile

from harness import ROOT, ensure_postgres, start_postgres, start_borealis, psql, run_pgbench

SCRIPT = "INSERT INTO bench_commit VALUES (:client_id, 'a short payload of some forty bytes......');\n"


def pgbench(url, clients, seconds, tmp, tag):
    script = os.path.join(tmp, "insert.sql")
    with open(script, "w") as f:
        f.write(SCRIPT)
    r = run_pgbench(url, ["-n", "-M", "prepared", "-f", script, "-c", str(clients), "-j", str(min(clients, 2)),
                          "-T", str(seconds)], os.path.join(tmp, f"log-{tag}-{clients}"), tag)
    r["clients"] = clients
    r["failed"] = [l for l in r.pop("stdout").splitlines() if "failed" in l]
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--clients", type=int, default=16)
    args = ap.parse_args()
    ensure_postgres()
    tmp = tempfile.mkdtemp(prefix="borealis-bench-")
    os.chmod(tmp, 0o777)
    stops = []
    try:
        pg_url, stop = start_postgres(tmp)
        stops.append(stop)
        b_url, stop = start_borealis(tmp)
        stops.append(stop)
        for url in (pg_url, b_url):
            psql(url, "DROP TABLE IF EXISTS bench_commit")
            psql(url, "CREATE TABLE bench_commit (client int4, payload text)")
        results = {}
        for clients in (1, args.clients):
            for name, url in (("postgresql", pg_url), ("borealis", b_url)):
                print(f"running {name}, {clients} client(s), {args.seconds} s ...", flush=True)
                results[f"{name}-{clients}"] = pgbench(url, clients, args.seconds, tmp, name)
        one_pg, one_b = results["postgresql-1"], results["borealis-1"]
        many_pg, many_b = results[f"postgresql-{args.clients}"], results[f"borealis-{args.clients}"]
        print()
        print(f"{'case':<34}{'PostgreSQL 15':>16}{'Borealis':>16}{'ratio B/PG':>12}")
        rows = [
            ("1 client, commit latency p50 ms", one_pg["latency_ms_p50"], one_b["latency_ms_p50"]),
            ("1 client, commit latency p99 ms", one_pg["latency_ms_p99"], one_b["latency_ms_p99"]),
            ("1 client, TPS", one_pg["tps"], one_b["tps"]),
            (f"{args.clients} clients, TPS", many_pg["tps"], many_b["tps"]),
            (f"{args.clients} clients, latency p99 ms", many_pg["latency_ms_p99"], many_b["latency_ms_p99"]),
        ]
        for label, a, b in rows:
            ratio = b / a if a and b else float("nan")
            print(f"{label:<34}{a:>16.3f}{b:>16.3f}{ratio:>12.2f}")
        os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
        with open(os.path.join(ROOT, "bench", "results", "commit.json"), "w") as f:
            json.dump({"seconds": args.seconds, "results": results}, f, indent=2)
    finally:
        for stop in reversed(stops):
            stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
