#!/usr/bin/env python3
"""pgbench against Borealis and PostgreSQL 15 on the same machine, in the same run.

    python3 bench/pgbench.py [--scale 10] [--seconds 30] [--clients 1,16,64]

Sets up a PostgreSQL 15 from Debian's packages and a Borealis cluster, loads both with
`pgbench -i -s SCALE`, then runs, alternating between the two: TPC-B-like (`-M prepared`) and
select-only (`-S -M prepared`) at each client count, each for a fixed time. Both are fully
durable: PostgreSQL with fsync and synchronous_commit on; Borealis acknowledging a commit only
once four of six storage nodes hold it. Prints TPS, average and p99 latency and the
Borealis / PostgreSQL ratio for each case; writes bench/results/pgbench.json and a PNG chart.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

from harness import ROOT, ensure_postgres, start_postgres, start_borealis, pgbench_exe, run_pgbench


def load(url, scale, tag):
    out = subprocess.run([pgbench_exe(), "-i", "-s", str(scale), "-q", url], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"pgbench -i failed on {tag}:\n{out.stdout}\n{out.stderr}")


def run(url, mode, clients, seconds, tmp, tag):
    args = ["-M", "prepared", "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(seconds)]
    if mode == "select-only":
        args.append("-S")
    r = run_pgbench(url, args, os.path.join(tmp, f"log-{tag}-{mode}-{clients}"), f"{tag} {mode} {clients}")
    r["failed"] = next((l.strip() for l in r.pop("stdout").splitlines() if "failed" in l), "")
    return r


def chart(results, path):
    try:
        import matplotlib
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--user", "matplotlib"], check=False)
        import site
        site.addsitedir(site.getusersitepackages())
        try:
            import matplotlib
        except ImportError:
            print("matplotlib unavailable: no chart written")
            return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cases = sorted({(r["mode"], r["clients"]) for r in results})
    labels = [f"{m}\n{c} clients" for m, c in cases]
    pg = [next(r["tps"] for r in results if (r["mode"], r["clients"]) == k and r["system"] == "postgresql") for k in cases]
    bo = [next(r["tps"] for r in results if (r["mode"], r["clients"]) == k and r["system"] == "borealis") for k in cases]
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(cases)), 4))
    xs = range(len(cases))
    ax.bar([x - 0.2 for x in xs], pg, width=0.4, label="PostgreSQL 15")
    ax.bar([x + 0.2 for x in xs], bo, width=0.4, label="Borealis (4/6 quorum)")
    ax.set_xticks(list(xs))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel("transactions per second")
    ax.set_title("pgbench, same machine, same run")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, default=10)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--clients", default="1,16,64")
    args = ap.parse_args()
    clients = [int(c) for c in args.clients.split(",")]
    ensure_postgres()
    tmp = tempfile.mkdtemp(prefix="borealis-pgbench-")
    os.chmod(tmp, 0o777)
    stops = []
    try:
        pg_url, stop = start_postgres(tmp)
        stops.append(stop)
        b_url, stop = start_borealis(tmp)
        stops.append(stop)
        systems = [("postgresql", pg_url), ("borealis", b_url)]
        for name, url in systems:
            print(f"loading {name} (scale {args.scale}) ...", flush=True)
            load(url, args.scale, name)
        results = []
        for mode in ("tpc-b", "select-only"):
            for c in clients:
                for name, url in systems:
                    print(f"running {name}: {mode}, {c} clients, {args.seconds} s ...", flush=True)
                    r = run(url, mode, c, args.seconds, tmp, name)
                    r.update({"system": name, "mode": mode, "clients": c})
                    results.append(r)
        print()
        print(f"{'case':<26}{'PG TPS':>12}{'Borealis TPS':>14}{'ratio':>8}{'PG avg/p99 ms':>18}{'B avg/p99 ms':>18}")
        for mode in ("tpc-b", "select-only"):
            for c in clients:
                pg = next(r for r in results if r["system"] == "postgresql" and r["mode"] == mode and r["clients"] == c)
                bo = next(r for r in results if r["system"] == "borealis" and r["mode"] == mode and r["clients"] == c)
                ratio = bo["tps"] / pg["tps"] if pg["tps"] and bo["tps"] else float("nan")
                print(f"{mode + ', ' + str(c) + ' clients':<26}{pg['tps']:>12.0f}{bo['tps']:>14.0f}{ratio:>8.2f}"
                      f"{pg['latency_ms_avg']:>9.2f}/{pg['latency_ms_p99']:<8.2f}{bo['latency_ms_avg']:>9.2f}/{bo['latency_ms_p99']:<8.2f}")
        outdir = os.path.join(ROOT, "bench", "results")
        os.makedirs(outdir, exist_ok=True)
        with open(os.path.join(outdir, "pgbench.json"), "w") as f:
            json.dump({"scale": args.scale, "seconds": args.seconds, "results": results}, f, indent=2)
        chart(results, os.path.join(outdir, "pgbench.png"))
        print(f"results: {outdir}/pgbench.json, {outdir}/pgbench.png")
    finally:
        for stop in reversed(stops):
            stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
