#!/usr/bin/env python3
"""SQL read paths: Borealis next to PostgreSQL 15, same machine, same run.

    python3 bench/sql.py [--seconds 10] [--rows 1000000] [--rounds 1]

Each system gets the same three tables, loaded with INSERT ... SELECT ... FROM generate_series in
batches of 100 000 rows:

    regions   (id int4 PRIMARY KEY, name text)                                    10 rows
    customers (id int4 PRIMARY KEY, region_id int4, name text)                10 000 rows
    orders    (id int8 PRIMARY KEY, customer_id int4, ref int8, amount int8,  --rows rows
               status int4, note text)
              secondary indexes on orders (customer_id) and orders (ref)

(`ref` is a permutation of the ids when --rows is coprime to 104 729, so its index is a
secondary index with one entry per key.) Both systems then get VACUUM ANALYZE (Borealis's
autoanalyze would get there too, but in the middle of the timed runs). Each query is run
once on both systems with the same parameters and the answers compared, then pgbench runs it
(`-n -M prepared -f SCRIPT`, random parameters via \\set) for --seconds, alternating between the
two systems:

    pk-point      one row by primary key                      1 and 16 clients
    index-point   one row by the secondary index on ref       1 and 16 clients
    range-100     100 rows by a primary-key range             1 client
    join-3way     orders of one customer (by the index on customer_id, about --rows/10 000
                  rows) joined to customers and regions      1 client
    latest-10     the newest 10 orders of one customer (ORDER BY id DESC LIMIT 10 over the
                  index on customer_id)                       1 and 16 clients
    latest-10-pk  the 10 orders before a random id (ORDER BY id DESC LIMIT 10: a backward
                  read of the primary key)                    1 client
    group-by      count, sum, avg per status over all of orders   1 client

With --rounds N every case runs N times on each system, the two still alternating; the table
then shows each system's median TPS and p99, the ratio of the medians, and the lowest and
highest of the rounds' own ratios (a shared machine's speed drifts from one run to the next by
more than some of the differences measured).

Prints TPS and p99 latency per case and the Borealis / PostgreSQL ratio; writes
bench/results/sql.json.
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

CUSTOMERS = 10_000
REGIONS = 10
BATCH_ROWS = 100_000

SCHEMA = [
    "CREATE TABLE regions (id int4 PRIMARY KEY, name text)",
    "CREATE TABLE customers (id int4 PRIMARY KEY, region_id int4, name text)",
    "CREATE TABLE orders (id int8 PRIMARY KEY, customer_id int4, ref int8, amount int8, status int4, note text)",
]

INDEXES = [
    "CREATE INDEX orders_customer_id_idx ON orders (customer_id)",
    "CREATE INDEX orders_ref_idx ON orders (ref)",
]

# (name, pgbench script, client counts, parameters for the one-off answer check)
CASES = [
    ("pk-point",
     "\\set id random(1, {rows})\n"
     "SELECT id, customer_id, amount, status, note FROM orders WHERE id = :id;\n",
     (1, 16), {"id": 4242}),
    ("index-point",
     "\\set r random(1, {rows})\n"
     "SELECT id, customer_id, amount FROM orders WHERE ref = :r;\n",
     (1, 16), {"r": 4242}),
    ("range-100",
     "\\set lo random(1, {rows} - 99)\n"
     "\\set hi :lo + 99\n"
     "SELECT id, amount FROM orders WHERE id BETWEEN :lo AND :hi;\n",
     (1,), {"lo": 4242, "hi": 4341}),
    ("join-3way",
     "\\set cid random(1, {customers})\n"
     "SELECT r.name, c.name, o.id, o.amount FROM orders o JOIN customers c ON c.id = o.customer_id "
     "JOIN regions r ON r.id = c.region_id WHERE o.customer_id = :cid;\n",
     (1,), {"cid": 42}),
    ("latest-10",
     "\\set cid random(1, {customers})\n"
     "SELECT id, amount, status FROM orders WHERE customer_id = :cid ORDER BY id DESC LIMIT 10;\n",
     (1, 16), {"cid": 42}),
    ("latest-10-pk",
     "\\set hi random(1000, {rows})\n"
     "SELECT id, customer_id, amount FROM orders WHERE id <= :hi ORDER BY id DESC LIMIT 10;\n",
     (1,), {"hi": 4242}),
    ("group-by",
     "SELECT status, count(*), sum(amount), avg(amount) FROM orders GROUP BY status;\n",
     (1,), {}),
]


def load(url, rows, tag):
    start = time.time()
    for sql in SCHEMA:
        psql(url, sql)
    psql(url, f"INSERT INTO regions SELECT g, 'region ' || g FROM generate_series(1, {REGIONS}) AS g")
    psql(url, f"INSERT INTO customers SELECT g, g % {REGIONS} + 1, 'customer ' || g "
              f"FROM generate_series(1, {CUSTOMERS}) AS g")
    for lo in range(1, rows + 1, BATCH_ROWS):
        hi = min(rows, lo + BATCH_ROWS - 1)
        psql(url, "INSERT INTO orders SELECT g, "
                  f"(g * 7919) % {CUSTOMERS} + 1, (g * 104729) % {rows} + 1, (g * 37) % 10007, g % 5, "
                  f"'order ' || g FROM generate_series(CAST({lo} AS int8), CAST({hi} AS int8)) AS g")
        print(f"  {tag}: {hi} rows", flush=True)
    for sql in INDEXES:
        psql(url, sql)
    return time.time() - start


def query_text(script, params, rows):
    """The script's SQL with the check's parameters in place of the \\set variables."""
    sql = "\n".join(l for l in script.format(rows=rows, customers=CUSTOMERS).splitlines()
                    if not l.startswith("\\"))
    for name, value in sorted(params.items(), key=lambda kv: -len(kv[0])):
        sql = sql.replace(f":{name}", str(value))
    return sql


def answer(url, sql):
    out = subprocess.run(["psql", url, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         capture_output=True, text=True)
    if out.returncode != 0:
        return None, out.stderr.strip()
    return sorted(out.stdout.splitlines()), None


def same_field(a, b):
    if a == b:
        return True
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    # Floats may differ in their last digits (a parallel sum adds in another order): compare
    # as numbers.
    return abs(x - y) <= 1e-9 * max(abs(x), abs(y))


def same_answer(a, b):
    if len(a) != len(b):
        return False
    for la, lb in zip(a, b):
        fa, fb = la.split("|"), lb.split("|")
        if len(fa) != len(fb) or not all(same_field(x, y) for x, y in zip(fa, fb)):
            return False
    return True


def run(url, case, script, clients, seconds, tmp, tag):
    path = os.path.join(tmp, f"{case}.sql")
    with open(path, "w") as f:
        f.write(script)
    args = ["-n", "-M", "prepared", "-f", path, "-c", str(clients), "-j", str(min(clients, 2)),
            "-T", str(seconds)]
    try:
        r = run_pgbench(url, args, os.path.join(tmp, f"log-{tag}-{case}-{clients}"), f"{tag} {case} {clients}")
    except SystemExit as e:
        # One case failing on one system is a result, not the end of the run.
        print(e, flush=True)
        return {"tps": None, "latency_ms_p99": None, "error": str(e)}
    r.pop("stdout")
    return r


def median(values):
    """The median of the values that are there (a failed run has none), or None."""
    v = sorted(x for x in values if x is not None)
    if not v:
        return None
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2


def fmt(value, spec):
    return format(value, spec) if value is not None else format("-", spec.split(".")[0])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=1,
                    help="runs of every case on each system, the two alternating; the table shows "
                         "each system's median and the spread of the rounds' ratios (a shared "
                         "machine's speed drifts by more than the differences measured)")
    args = ap.parse_args()
    if args.rows < 100:
        sys.exit("--rows must be at least 100")
    if args.rounds < 1:
        sys.exit("--rounds must be at least 1")
    ensure_postgres()
    tmp = tempfile.mkdtemp(prefix="borealis-sql-")
    os.chmod(tmp, 0o777)
    stops = []
    try:
        pg_url, stop = start_postgres(tmp)
        stops.append(stop)
        b_url, stop = start_borealis(tmp)
        stops.append(stop)
        systems = [("postgresql", pg_url), ("borealis", b_url)]
        load_seconds = {}
        for name, url in systems:
            print(f"loading {name}: {args.rows} orders, {CUSTOMERS} customers, {REGIONS} regions ...", flush=True)
            load_seconds[name] = load(url, args.rows, name)
        psql(pg_url, "VACUUM ANALYZE")
        psql(b_url, "VACUUM ANALYZE")

        checks = {}
        for case, script, _, params in CASES:
            sql = query_text(script, params, args.rows)
            answers = {name: answer(url, sql) for name, url in systems}
            (pg_rows, pg_err), (b_rows, b_err) = answers["postgresql"], answers["borealis"]
            if pg_err:
                sys.exit(f"{case} failed on PostgreSQL: {pg_err}\n{sql}")
            if b_err:
                checks[case] = f"Borealis failed: {b_err}"
            elif not same_answer(pg_rows, b_rows):
                checks[case] = f"answers differ ({len(pg_rows)} rows from PostgreSQL, {len(b_rows)} from Borealis)"
            else:
                checks[case] = f"same answer ({len(pg_rows)} rows)"
            print(f"check {case}: {checks[case]}", flush=True)

        results = []
        for case, script, clients_list, _ in CASES:
            text = script.format(rows=args.rows, customers=CUSTOMERS)
            for clients in clients_list:
                for rnd in range(args.rounds):
                    for name, url in systems:
                        print(f"running {name}: {case}, {clients} clients, {args.seconds} s"
                              f"{f', round {rnd + 1}' if args.rounds > 1 else ''} ...", flush=True)
                        r = run(url, case, text, clients, args.seconds, tmp, name)
                        r.update({"system": name, "case": case, "clients": clients, "round": rnd + 1})
                        results.append(r)

        print()
        spread = args.rounds > 1
        print(f"{'case':<24}{'PG TPS':>10}{'Borealis TPS':>14}{'ratio':>8}"
              f"{format('rounds', '>13') if spread else ''}{'PG p99 ms':>11}{'B p99 ms':>10}")
        for case, _, clients_list, _ in CASES:
            for clients in clients_list:
                def of(system):
                    return [r for r in results if r["system"] == system and r["case"] == case
                            and r["clients"] == clients]
                pg, bo = of("postgresql"), of("borealis")
                pg_tps, bo_tps = median(r["tps"] for r in pg), median(r["tps"] for r in bo)
                ratio = bo_tps / pg_tps if pg_tps and bo_tps else None
                # Each round's ratio pairs two runs made one after the other.
                ratios = [b["tps"] / p["tps"] for p, b in zip(pg, bo) if p["tps"] and b["tps"]]
                rounds = f"{min(ratios):.2f}-{max(ratios):.2f}" if ratios else "-"
                label = f"{case}, {clients} client{'s' if clients > 1 else ''}"
                print(f"{label:<24}{fmt(pg_tps, '>10.0f')}{fmt(bo_tps, '>14.0f')}{fmt(ratio, '>8.2f')}"
                      f"{format(rounds, '>13') if spread else ''}"
                      f"{fmt(median(r['latency_ms_p99'] for r in pg), '>11.2f')}"
                      f"{fmt(median(r['latency_ms_p99'] for r in bo), '>10.2f')}")
        print(f"load: PostgreSQL {load_seconds['postgresql']:.0f} s, Borealis {load_seconds['borealis']:.0f} s")
        outdir = os.path.join(ROOT, "bench", "results")
        os.makedirs(outdir, exist_ok=True)
        with open(os.path.join(outdir, "sql.json"), "w") as f:
            json.dump({"rows": args.rows, "customers": CUSTOMERS, "regions": REGIONS, "seconds": args.seconds,
                       "rounds": args.rounds,
                       "load_seconds": load_seconds, "checks": checks, "results": results}, f, indent=2)
        print(f"results: {outdir}/sql.json")
    finally:
        for stop in reversed(stops):
            stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
