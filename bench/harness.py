"""Shared pieces of the benchmarks: a PostgreSQL 15 and a Borealis cluster side by side."""

import os
import shutil
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG_BIN = "/usr/lib/postgresql/15/bin"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def ensure_postgres():
    if not os.path.exists(os.path.join(PG_BIN, "initdb")):
        print("installing postgresql-15 ...", flush=True)
        run(["apt-get", "update", "-qq"])
        run(["apt-get", "install", "-y", "-qq", "postgresql-15"], stdout=subprocess.DEVNULL)
    if not shutil.which("pgbench") and not os.path.exists(os.path.join(PG_BIN, "pgbench")):
        sys.exit("pgbench not found")


def as_postgres_user(cmd):
    # initdb and postgres refuse to run as root.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--"] + cmd
    return cmd


def start_postgres(tmp):
    data = os.path.join(tmp, "pg")
    os.makedirs(data)
    if os.geteuid() == 0:
        shutil.chown(tmp, "postgres")
        shutil.chown(data, "postgres")
    port = free_port()
    run(as_postgres_user([os.path.join(PG_BIN, "initdb"), "-D", data, "-U", "bench", "--auth=trust", "-E", "UTF8"]),
        stdout=subprocess.DEVNULL)
    opts = f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on -c max_connections=200"
    run(as_postgres_user([os.path.join(PG_BIN, "pg_ctl"), "-D", data, "-o", opts, "-l", os.path.join(tmp, "pg.log"), "-w", "start"]),
        stdout=subprocess.DEVNULL)
    stop = lambda: subprocess.run(as_postgres_user([os.path.join(PG_BIN, "pg_ctl"), "-D", data, "-m", "fast", "stop"]),
                                  stdout=subprocess.DEVNULL)
    return f"postgresql://bench@127.0.0.1:{port}/postgres", stop


def start_borealis(tmp):
    # BOREALIS_BIN names a binary built elsewhere; otherwise build the release binary here.
    binary = os.environ.get("BOREALIS_BIN")
    if not binary:
        run(["cargo", "build", "--release", "-q", "-p", "borealis"], cwd=ROOT)
        binary = os.path.join(ROOT, "target", "release", "borealis")
    port = free_port()
    proc = subprocess.Popen([binary, "up", "--data-dir", os.path.join(tmp, "borealis"), "--port", str(port)],
                            stdout=subprocess.PIPE, text=True)
    url = None
    deadline = time.time() + 120
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("cluster endpoint:"):
            url = line.split()[2]
            break
    if url is None:
        proc.kill()
        sys.exit("borealis did not start")

    def stop():
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    return url, stop


def psql(url, sql):
    run(["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], stdout=subprocess.DEVNULL)


def pgbench_exe():
    return shutil.which("pgbench") or os.path.join(PG_BIN, "pgbench")


def run_pgbench(url, args, logdir, tag):
    """Runs pgbench with per-transaction logging into `logdir`; exits on failure.

    Returns the summary figures every benchmark reports: TPS, latency average/p50/p99 in ms,
    the number of transactions, and pgbench's stdout for anything else.
    """
    os.makedirs(logdir, exist_ok=True)
    out = subprocess.run([pgbench_exe()] + args + ["--log", f"--log-prefix={os.path.join(logdir, 'tx')}", url],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"pgbench failed on {tag}:\n{out.stdout}\n{out.stderr}")
    latencies = []
    for name in os.listdir(logdir):
        with open(os.path.join(logdir, name)) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[2].isdigit():
                    latencies.append(int(parts[2]) / 1000.0)
    latencies.sort()
    tps = next((float(l.split()[2]) for l in out.stdout.splitlines() if l.startswith("tps = ")), None)
    return {
        "tps": tps,
        "transactions": len(latencies),
        "latency_ms_avg": sum(latencies) / len(latencies) if latencies else None,
        "latency_ms_p50": percentile(latencies, 50),
        "latency_ms_p99": percentile(latencies, 99),
        "stdout": out.stdout,
    }


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    i = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * len(sorted_values))) - 1))
    return sorted_values[i]


def borealis_writer_pid(url):
    """The pid of the Borealis instance serving `url` (found by its --listen argument)."""
    port = url.rsplit(":", 1)[1].split("/")[0]
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if b"instance" in args and any(a.endswith(f":{port}".encode()) for a in args):
            return int(pid)
    return None


def peak_memory_kib(pid):
    """A process's peak resident memory (VmHWM), in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None
