#!/usr/bin/env python3
"""Side-by-side DNS server benchmark: hedge against Unbound, dnsmasq and
Knot Resolver, on loopback, with the same block set and the same queries.

Run through `benches/compare.sh`, which installs the Debian packages and
builds hedge first. Everything listens on 127.0.0.1; nothing leaves the
machine; every run is bounded in time.

For each server in turn: start it pinned to one core, time the start until
a blocked name is answered as blocked, read its resident memory, warm its
cache with every query once, check it blocks and answers like the others,
then run dnsperf (pinned to the other core) flat out for the set duration,
then again at a fixed rate with per-query latencies for the 99th
percentile and the lost count. One table at the end; ratios against
Unbound from the same run.
"""

import argparse
import gzip
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("HEDGE_DATA", ROOT.parent / "shared" / "data"))
HOSTNAME = re.compile(r"^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_-]{1,63})+$")
ADBLOCK = re.compile(r"^\|\|([^\^/$|*]+)\^$")
UPSTREAM_PORT = 5491
SERVER_PORT = 5492
# Where a name the upstream knows but the resolver should block points.
LEAK_ADDRESS = "198.51.100.99"


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the data


def list_names(path):
    """The names a list file blocks, in the file's own format."""
    name = path.name
    if ".hosts." in name:
        fmt = "hosts"
    elif ".adblock." in name or ".adguard." in name:
        fmt = "adblock"
    elif "wildcard" in name:
        fmt = "wildcard"
    else:
        fmt = "plain"
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#!([":
                continue
            if fmt == "hosts":
                fields = line.split()
                if len(fields) < 2 or fields[0] not in ("0.0.0.0", "127.0.0.1", "::", "::1"):
                    continue
                candidate = fields[1]
            elif fmt == "adblock":
                m = ADBLOCK.match(line)
                if not m:
                    continue
                candidate = m.group(1)
            elif fmt == "wildcard":
                candidate = line[2:] if line.startswith("*.") else line
            else:
                candidate = line.split()[0]
            candidate = candidate.lower().rstrip(".")
            if HOSTNAME.match(candidate):
                yield candidate


def block_set(total):
    """Every name in the real lists, topped up to `total` with generated
    names (`n<i>.<word>-<i mod 5000>.<tld>`) when `total` is larger."""
    names = set()
    for path in sorted((DATA / "lists").glob("*.gz")):
        names.update(list_names(path))
    real = len(names)
    words = ["alpha", "bravo", "delta", "kilo", "lima", "oscar", "sierra", "tango"]
    tlds = ["com", "net", "org", "info", "xyz", "co.uk"]
    i = 0
    while len(names) < total:
        names.add(f"n{i}.{words[i % len(words)]}-{i % 5000}.{tlds[i % len(tlds)]}")
        i += 1
    return sorted(names), real


def is_blocked(name, blocked):
    labels = name.split(".")
    return any(".".join(labels[i:]) in blocked for i in range(len(labels)))


def allowed_names(blocked, count):
    out = []
    seen = set()
    for file in ("opendns-top-domains.txt", "opendns-random-domains.txt"):
        for line in (DATA / "queries" / file).read_text(errors="replace").splitlines():
            name = line.strip().lower().rstrip(".")
            if name in seen or not HOSTNAME.match(name) or is_blocked(name, blocked):
                continue
            seen.add(name)
            out.append(name)
            if len(out) == count:
                return out
    return out


# ------------------------------------------------------------- DNS on wire


def query_packet(qid, name, qtype=1):
    header = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return header + qname + struct.pack(">HH", qtype, 1)


def skip_name(msg, i):
    while True:
        n = msg[i]
        if n == 0:
            return i + 1
        if n & 0xC0 == 0xC0:
            return i + 2
        i += 1 + n


def answer_of(msg):
    """(rcode, [A addresses]) of a response."""
    rcode = msg[3] & 0x0F
    qd, an = struct.unpack(">HH", msg[4:8])
    i = 12
    for _ in range(qd):
        i = skip_name(msg, i) + 4
    addrs = []
    for _ in range(an):
        i = skip_name(msg, i)
        rtype, _, _, rdlen = struct.unpack(">HHIH", msg[i : i + 10])
        i += 10
        if rtype == 1 and rdlen == 4:
            addrs.append(socket.inet_ntoa(msg[i : i + 4]))
        i += rdlen
    return rcode, addrs


def ask(port, name, timeout=0.5):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        qid = random.randrange(65536)
        s.sendto(query_packet(qid, name), ("127.0.0.1", port))
        while True:
            msg, _ = s.recvfrom(4096)
            if struct.unpack(">H", msg[:2])[0] == qid:
                return answer_of(msg)
    except (socket.timeout, ConnectionRefusedError, OSError):
        return None
    finally:
        s.close()


def looks_blocked(result):
    if result is None:
        return False
    rcode, addrs = result
    return rcode == 3 or (rcode == 0 and (not addrs or addrs == ["0.0.0.0"]))


# ----------------------------------------------------------- the servers


def write_configs(work, blocked, allowed, queried_blocked, hedge_bin):
    """Config files for every server and the upstream; returns the argv of
    each server, keyed by name."""
    plain = work / "blocked.txt"
    plain.write_text("\n".join(blocked) + "\n")

    # RPZ: each name and everything below it (what a hedge list entry means).
    with open(work / "blocked.rpz", "w") as f:
        f.write("$TTL 10\n@ IN SOA localhost. root.localhost. 1 3600 600 86400 10\n@ IN NS localhost.\n")
        for name in blocked:
            f.write(f"{name} CNAME .\n*.{name} CNAME .\n")

    with open(work / "dnsmasq-block.conf", "w") as f:
        for name in blocked:
            f.write(f"address=/{name}/\n")

    # The upstream: hedge answering authoritatively, one zone per top-level
    # domain, with an A record for every allowed name and for the blocked
    # names queried (so a resolver that failed to block would be seen
    # answering them).
    zones = {}
    for i, name in enumerate(allowed):
        zones.setdefault(name.rsplit(".", 1)[-1], []).append(f"{name}. IN A 198.51.{100 + i % 3}.{i % 250 + 1}")
    for name in queried_blocked:
        zones.setdefault(name.rsplit(".", 1)[-1], []).append(f"{name}. IN A {LEAK_ADDRESS}")
    (work / "zones").mkdir(exist_ok=True)
    zone_config = []
    for tld, records in sorted(zones.items()):
        path = work / "zones" / f"{tld}.zone"
        path.write_text(f"$ORIGIN {tld}.\n$TTL 86400\n@ IN SOA ns.upstream. admin.upstream. 1 3600 600 86400 3600\n"
                        "@ IN NS ns.upstream.\n" + "\n".join(sorted(set(records))) + "\n")
        zone_config.append(f'[[zones]]\nname = "{tld}"\nfile = "{path}"\n')
    (work / "upstream.toml").write_text(f"""
[server]
listen = ["127.0.0.1:{UPSTREAM_PORT}"]
allow_networks = ["127.0.0.0/8"]
rate_limit_qps = 0
[upstream]
servers = ["127.0.0.1:9"]
{"".join(zone_config)}
[admin]
socket = "{work}/upstream.sock"
[logging]
database = "{work}/upstream.db"
[[groups]]
name = "default"
log = "none"
""")

    (work / "hedge.toml").write_text(f"""
[server]
listen = ["127.0.0.1:{SERVER_PORT}"]
allow_networks = ["127.0.0.0/8"]
rate_limit_qps = 0
[upstream]
servers = ["127.0.0.1:{UPSTREAM_PORT}"]
cache_size = 100000
[lists]
cache_dir = "{work}/lists"
[categories.malware]
sources = ["{plain}"]
[[groups]]
name = "pupils"
networks = ["127.0.0.0/8"]
block = ["malware"]
log = "full"
[admin]
socket = "{work}/hedge.sock"
[logging]
database = "{work}/hedge.db"
""")

    (work / "unbound.conf").write_text(f"""
server:
  interface: 127.0.0.1@{SERVER_PORT}
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  num-threads: 1
  chroot: ""
  username: ""
  pidfile: ""
  logfile: ""
  use-syslog: no
  verbosity: 0
  module-config: "respip iterator"
  msg-cache-size: 64m
  rrset-cache-size: 64m
rpz:
  name: rpz.bench.
  zonefile: {work}/blocked.rpz
  rpz-log: no
forward-zone:
  name: "."
  forward-addr: 127.0.0.1@{UPSTREAM_PORT}
""")

    (work / "kresd").mkdir(exist_ok=True)
    (work / "kresd.conf").write_text(f"""
net.listen('127.0.0.1', {SERVER_PORT}, {{ kind = 'dns' }})
trust_anchors.remove('.')
cache.open(64 * MB, 'lmdb://{work}/kresd/cache')
modules.unload('detect_time_jump')
policy.add(policy.rpz(policy.DENY, '{work}/blocked.rpz', false))
policy.add(policy.all(policy.STUB('127.0.0.1@{UPSTREAM_PORT}')))
""")

    return {
        "hedge": [str(hedge_bin), "serve", "-c", str(work / "hedge.toml")],
        "unbound": ["unbound", "-d", "-c", str(work / "unbound.conf")],
        "dnsmasq": [
            "dnsmasq", "-k", "--conf-file=" + str(work / "dnsmasq-block.conf"),
            f"--port={SERVER_PORT}", "--listen-address=127.0.0.1", "--bind-interfaces",
            "--no-resolv", "--no-hosts", f"--server=127.0.0.1#{UPSTREAM_PORT}",
            "--cache-size=10000", "--user=root", "--pid-file=", "--log-facility=-",
        ],
        "kresd": ["kresd", "-n", "-c", str(work / "kresd.conf"), str(work / "kresd")],
    }


def rss_mb(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def hedge_log(argv):
    """The query log's state from `hedge status --json` (written, dropped)."""
    out = subprocess.run(argv[:1] + ["status", "--json"] + argv[2:], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    return json.loads(out)["log"]


def start(argv, cpu, log_path, env=None):
    with open(log_path, "w") as out:
        return subprocess.Popen(
            ["taskset", "-c", str(cpu)] + argv, stdout=out, stderr=subprocess.STDOUT, env=env,
            start_new_session=True,
        )


def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_blocking(port, probe, started, limit=120):
    """Seconds from `started` until `probe` is answered as blocked."""
    while time.monotonic() - started < limit:
        if looks_blocked(ask(port, probe, timeout=0.05)):
            return time.monotonic() - started
        time.sleep(0.005)
    raise RuntimeError(f"no blocked answer for {probe} within {limit} s")


def dnsperf(port, queries, args, verbose=False):
    argv = ["taskset", "-c", "1", "dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", str(queries)] + args
    if verbose:
        argv.append("-v")
    out = subprocess.run(argv, capture_output=True, text=True, timeout=600).stdout
    stats = {}
    for key, pattern in (
        ("sent", r"Queries sent:\s+(\d+)"),
        ("completed", r"Queries completed:\s+(\d+)"),
        ("lost", r"Queries lost:\s+(\d+)"),
        ("qps", r"Queries per second:\s+([\d.]+)"),
        ("avg_ms", r"Average Latency \(s\):\s+([\d.]+)"),
    ):
        m = re.search(pattern, out)
        stats[key] = float(m.group(1)) if m else float("nan")
    stats["avg_ms"] *= 1000
    if verbose:
        # "> NOERROR name A 0.000123" per answered query.
        # Lost ones are "> T name A", without a latency.
        latencies = sorted(
            float(line.rsplit(None, 1)[1])
            for line in out.splitlines()
            if line.startswith("> ") and not line.startswith("> T ")
        )
        stats["p99_ms"] = latencies[int(len(latencies) * 0.99)] * 1000 if latencies else float("nan")
    return stats


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hedge", required=True, help="the hedge binary")
    parser.add_argument("--seconds", type=int, default=15, help="length of each dnsperf run")
    parser.add_argument("--names", type=int, default=0, help="top the block set up to this many names")
    parser.add_argument("--rate", type=int, default=0, help="fixed rate for the latency run (default: 80%% of Unbound's)")
    parser.add_argument("--servers", default="unbound,hedge,dnsmasq,kresd")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    if (os.cpu_count() or 1) < 2:
        sys.exit("compare: needs two cores (the server on one, dnsperf on the other)")
    if not (DATA / "lists").is_dir():
        sys.exit(f"compare: {DATA}/lists not found (set HEDGE_DATA)")

    work = Path(tempfile.mkdtemp(prefix="hedge-compare-"))
    blocked, real = block_set(args.names)
    blocked_set = set(blocked)
    allowed = allowed_names(blocked_set, 8000)
    rng = random.Random(20261123)
    real_blocked = [n for n in blocked if not re.match(r"n\d+\.", n)]
    queried_blocked = rng.sample(real_blocked, 2000)
    mix = [(n, "A") for n in allowed] + [(n, "A") for n in queried_blocked]
    rng.shuffle(mix)
    queries = work / "queries.txt"
    queries.write_text("".join(f"{n} {t}\n" for n, t in mix))
    argvs = write_configs(work, blocked, allowed, queried_blocked, Path(args.hedge).resolve())
    generated = len(blocked) - real
    log(f"block set: {len(blocked):,} names ({real:,} from {DATA}/lists"
        + (f", {generated:,} generated" if generated else "") + ")")
    log(f"queries: {len(allowed):,} allowed + {len(queried_blocked):,} blocked, type A, shuffled")

    upstream = start(argvs["hedge"][:2] + ["-c", str(work / "upstream.toml")], 1, work / "upstream.log",
                     env=dict(os.environ, RUST_LOG="warn"))
    try:
        for _ in range(200):
            if ask(UPSTREAM_PORT, allowed[0], 0.05):
                break
            time.sleep(0.05)
        else:
            sys.exit(f"compare: the upstream did not start:\n{(work / 'upstream.log').read_text()}")

        results = {}
        for name in args.servers.split(","):
            argv = argvs[name]
            if shutil.which(argv[0]) is None and not Path(argv[0]).exists():
                log(f"{name}: not installed, skipped")
                continue
            started = time.monotonic()
            proc = start(argv, 0, work / f"{name}.log", env=dict(os.environ, RUST_LOG="warn"))
            try:
                ready = wait_blocking(SERVER_PORT, queried_blocked[0], started)
                rss_loaded = rss_mb(proc.pid)
                # Warm the cache with every query once, then check answers.
                dnsperf(SERVER_PORT, queries, ["-n", "1", "-c", "4", "-q", "50"])
                wrong = [n for n in queried_blocked[:200] if not looks_blocked(ask(SERVER_PORT, n))]
                wrong += [n for n in allowed[:200] if looks_blocked(ask(SERVER_PORT, n))]
                if wrong:
                    raise RuntimeError(f"{name} answers {len(wrong)} sample names wrongly, e.g. {wrong[:3]}")
                cpu_before = cpu_seconds(proc.pid)
                flat = dnsperf(SERVER_PORT, queries, ["-l", str(args.seconds), "-c", "20", "-q", "200"])
                cpu_used = cpu_seconds(proc.pid) - cpu_before
                rss_serving = rss_mb(proc.pid)
                if name == "hedge":
                    # Logging with no drop, or the run does not count.
                    log_state = hedge_log(argv)
                    if log_state["dropped"]:
                        raise RuntimeError(f"hedge dropped {log_state['dropped']:,} query-log entries")
                    log(f"hedge: query log {log_state['written']:,} written, 0 dropped")
                results[name] = dict(flat=flat, ready=ready, rss_loaded=rss_loaded,
                                     rss_serving=rss_serving,
                                     cpu_per_k=cpu_used / max(flat["completed"], 1) * 1000 * 1000)
                log(f"{name}: {flat['qps']:,.0f} qps flat out, avg {flat['avg_ms']:.3f} ms, "
                    f"lost {flat['lost']:.0f}, {rss_loaded:.1f} MB loaded, ready in {ready:.2f} s")
            finally:
                stop(proc)
            time.sleep(0.5)

        # Fixed-rate runs: below Unbound's top rate, where it should lose
        # nothing; per-query latencies for the 99th percentile.
        base = results.get("unbound") or next(iter(results.values()))
        rate = args.rate or int(base["flat"]["qps"] * 0.8)
        for name in results:
            proc = start(argvs[name], 0, work / f"{name}.rate.log", env=dict(os.environ, RUST_LOG="warn"))
            try:
                wait_blocking(SERVER_PORT, queried_blocked[0], time.monotonic())
                dnsperf(SERVER_PORT, queries, ["-n", "1", "-c", "4", "-q", "50"])
                fixed = dnsperf(SERVER_PORT, queries, ["-l", str(args.seconds), "-c", "20", "-q", "200",
                                                       "-Q", str(rate)], verbose=True)
                results[name]["fixed"] = fixed
            finally:
                stop(proc)
            time.sleep(0.5)
    finally:
        stop(upstream)
        if args.keep:
            log(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    print(f"machine: {os.cpu_count()} cores, {cpu}; server pinned to CPU 0, dnsperf to CPU 1")
    print(f"block set {len(blocked):,} names; {args.seconds} s per run, 20 clients, 200 outstanding; "
          f"fixed-rate run at {rate:,} qps")
    ref = results.get("unbound")
    print("| server | qps flat out | x Unbound | avg ms | lost | at fixed rate: p99 ms | lost | "
          "RSS loaded MB | RSS serving MB | CPU ms per 1k queries | start to blocking s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        ratio = r["flat"]["qps"] / ref["flat"]["qps"] if ref else float("nan")
        fixed = r.get("fixed", {})
        print(f"| {name} | {r['flat']['qps']:,.0f} | {ratio:.2f} | {r['flat']['avg_ms']:.3f} | "
              f"{r['flat']['lost']:.0f} | {fixed.get('p99_ms', float('nan')):.3f} | "
              f"{fixed.get('lost', float('nan')):.0f} | {r['rss_loaded']:.1f} | {r['rss_serving']:.1f} | "
              f"{r['cpu_per_k']:.1f} | {r['ready']:.2f} |")


if __name__ == "__main__":
    main()
