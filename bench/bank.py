#!/usr/bin/env python3
"""The bank workload: Borealis next to PostgreSQL 15, same machine, same run.

    python3 bench/bank.py [--seconds 20] [--clients 16] [--accounts 1000]

16 clients move money between random accounts (two UPDATEs in one transaction), at READ
COMMITTED, REPEATABLE READ and SERIALIZABLE; serialization failures and deadlocks are retried
(pgbench --max-tries). Both systems fully durable. Prints TPS and p99 latency per isolation level
and the Borealis / PostgreSQL ratio; checks that the total balance never changed; writes
bench/results/bank.json.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

from harness import ROOT, ensure_postgres, start_postgres, start_borealis, psql, run_pgbench

TRANSFER = """\\set src random(1, {accounts})
\\set dst random(1, {accounts})
\\set amount random(1, 50)
BEGIN ISOLATION LEVEL {level};
UPDATE bank_accounts SET balance = balance - :amount WHERE id = :src;
UPDATE bank_accounts SET balance = balance + :amount WHERE id = :dst;
COMMIT;
"""


def total(url):
    out = subprocess.run(["psql", url, "-X", "-A", "-t", "-c", "SELECT sum(balance) FROM bank_accounts"],
                         capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def run(url, level, clients, seconds, accounts, tmp, tag):
    script = os.path.join(tmp, f"transfer-{level.replace(' ', '_')}.sql")
    with open(script, "w") as f:
        f.write(TRANSFER.format(accounts=accounts, level=level))
    r = run_pgbench(url, ["-n", "-M", "prepared", "-f", script, "-c", str(clients), "-j", str(min(clients, 2)),
                          "-T", str(seconds), "--max-tries=100"],
                    os.path.join(tmp, f"log-{tag}-{level.replace(' ', '_')}"), f"{tag} {level}")
    r["retried"] = next((l.strip() for l in r.pop("stdout").splitlines() if "retried" in l), "")
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--accounts", type=int, default=1000)
    args = ap.parse_args()
    ensure_postgres()
    tmp = tempfile.mkdtemp(prefix="borealis-bank-")
    os.chmod(tmp, 0o777)
    stops = []
    try:
        pg_url, stop = start_postgres(tmp)
        stops.append(stop)
        b_url, stop = start_borealis(tmp)
        stops.append(stop)
        systems = [("postgresql", pg_url), ("borealis", b_url)]
        start_total = 1000 * args.accounts
        for _, url in systems:
            psql(url, "DROP TABLE IF EXISTS bank_accounts")
            psql(url, "CREATE TABLE bank_accounts (id int4 PRIMARY KEY, balance int8 NOT NULL)")
            for lo in range(1, args.accounts + 1, 500):
                hi = min(args.accounts, lo + 499)
                values = ",".join(f"({i}, 1000)" for i in range(lo, hi + 1))
                psql(url, f"INSERT INTO bank_accounts VALUES {values}")
        results = []
        for level in ("READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"):
            for name, url in systems:
                print(f"running {name}: {level}, {args.clients} clients, {args.seconds} s ...", flush=True)
                r = run(url, level, args.clients, args.seconds, args.accounts, tmp, name)
                r.update({"system": name, "level": level})
                results.append(r)
                t = total(url)
                if t != start_total:
                    sys.exit(f"{name}: total balance changed to {t} (expected {start_total}) at {level}")
        print()
        print(f"{'isolation':<18}{'PG TPS':>10}{'Borealis TPS':>14}{'ratio':>8}{'PG p99 ms':>11}{'B p99 ms':>10}")
        for level in ("READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"):
            pg = next(r for r in results if r["system"] == "postgresql" and r["level"] == level)
            bo = next(r for r in results if r["system"] == "borealis" and r["level"] == level)
            ratio = bo["tps"] / pg["tps"] if pg["tps"] and bo["tps"] else float("nan")
            print(f"{level:<18}{pg['tps']:>10.0f}{bo['tps']:>14.0f}{ratio:>8.2f}{pg['latency_ms_p99']:>11.2f}{bo['latency_ms_p99']:>10.2f}")
        outdir = os.path.join(ROOT, "bench", "results")
        os.makedirs(outdir, exist_ok=True)
        with open(os.path.join(outdir, "bank.json"), "w") as f:
            json.dump({"seconds": args.seconds, "clients": args.clients, "results": results}, f, indent=2)
    finally:
        for stop in reversed(stops):
            stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
