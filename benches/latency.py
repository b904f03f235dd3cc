#!/usr/bin/env python3
"""Client latency on realistic traffic: hedge, Unbound (prefetch on), dnsmasq
and Knot Resolver fed the same replay.

Names from ../shared/data/queries (the allowed ones) and the real block
lists (the blocked ones) are asked with Zipf-like popularity (the name of
rank r asked in proportion to 1/r) by many clients at a fixed rate, for long
enough that short TTLs run out. The upstream every resolver forwards to is
this script itself on loopback: it answers every A question after 20 to 40
ms, with a TTL chosen per name (30 s, 5 min, 1 h or a day), and counts the
questions it gets. For each server: mean, median, 95th and 99th percentile
of the client latency, and upstream questions, as ratios against Unbound.

    python3 benches/latency.py --hedge target/release/hedge [--seconds 60] [--rate 1000]

Uses benches/compare.py's block set, configurations and helpers; needs
dnsperf, unbound, dnsmasq and kresd (benches/compare.sh installs them).
"""

import argparse
import asyncio
import os
import random
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare  # noqa: E402

# Seconds, and how often a name gets each (by a hash of the name).
TTLS = [(30, 20), (300, 40), (3600, 30), (86400, 10)]


def ttl_of(name):
    """The TTL the upstream gives `name`: fixed per name, TTLS's mix."""
    pick = sum(name.encode()) * 2654435761 % 100
    for ttl, share in TTLS:
        if pick < share:
            return ttl
        pick -= share
    return TTLS[-1][0]


def question_end(msg):
    """The offset just past the question's name, type and class."""
    i = 12
    while msg[i] != 0:
        i += msg[i] + 1
    return i + 5


def qname(msg):
    labels, i = [], 12
    while msg[i] != 0:
        labels.append(msg[i + 1:i + 1 + msg[i]].decode(errors="replace"))
        i += msg[i] + 1
    return ".".join(labels).lower()


class Upstream(asyncio.DatagramProtocol):
    """Answers every question after 20-40 ms: A 198.51.100.7 with the
    name's TTL (NODATA for other types); counts what it is asked."""

    def __init__(self, count_file):
        self.count = 0
        self.count_file = count_file
        self.rng = random.Random(7)

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        if len(data) < 17 or data[2] & 0x80:
            return
        self.count += 1
        asyncio.get_running_loop().call_later(
            self.rng.uniform(0.020, 0.040), self.answer, data, addr)

    def answer(self, data, addr):
        end = question_end(data)
        qtype = struct.unpack("!H", data[end - 4:end - 2])[0]
        flags = 0x8180
        answer = b""
        if qtype == 1:
            answer = (b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, ttl_of(qname(data)), 4)
                      + bytes([198, 51, 100, 7]))
        header = data[:2] + struct.pack("!HHHHH", flags, 1, 1 if answer else 0, 0, 0)
        self.transport.sendto(header + data[12:end] + answer, addr)


async def serve_upstream(count_file):
    loop = asyncio.get_running_loop()
    protocol = Upstream(count_file)
    await loop.create_datagram_endpoint(lambda: protocol, local_addr=("127.0.0.1", compare.UPSTREAM_PORT))
    while True:
        await asyncio.sleep(0.2)
        Path(count_file).write_text(str(protocol.count))


def zipf_replay(names, count, rng):
    """`count` queries drawn from `names`, the name of rank r with weight 1/r."""
    weights = [1.0 / (rank + 1) for rank in range(len(names))]
    return rng.choices(names, weights=weights, k=count)


def percentile(sorted_values, p):
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hedge", required=True, help="the hedge binary")
    parser.add_argument("--seconds", type=int, default=60, help="length of each replay")
    parser.add_argument("--rate", type=int, default=1000, help="queries a second")
    parser.add_argument("--names", type=int, default=10000, help="distinct names asked")
    parser.add_argument("--clients", type=int, default=50, help="dnsperf clients (sockets)")
    parser.add_argument("--servers", default="unbound,hedge,dnsmasq,kresd")
    parser.add_argument("--upstream", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.upstream:
        asyncio.run(serve_upstream(args.upstream))
        return

    work = Path(tempfile.mkdtemp(prefix="hedge-latency-"))
    rng = random.Random(20261130)
    blocked, _ = compare.block_set(0)
    blocked_set = set(blocked)
    allowed = compare.allowed_names(blocked_set, args.names * 9 // 10)
    names = allowed + rng.sample(blocked, args.names - len(allowed))
    rng.shuffle(names)
    replay = zipf_replay(names, args.seconds * args.rate, rng)
    queries = work / "replay.txt"
    queries.write_text("".join(f"{n} A\n" for n in replay))
    argvs = compare.write_configs(work, blocked, allowed, [], Path(args.hedge).resolve())
    unbound_conf = work / "unbound.conf"
    unbound_conf.write_text(unbound_conf.read_text().replace(
        "  num-threads: 1\n", "  num-threads: 1\n  prefetch: yes\n"))
    compare.log(f"{len(names):,} names ({len(allowed):,} allowed), {len(replay):,} queries "
                f"at {args.rate}/s, Zipf-like; TTLs {', '.join(f'{t} s' for t, _ in TTLS)}")

    results = {}
    for name in args.servers.split(","):
        argv = argvs[name]
        if shutil.which(argv[0]) is None and not Path(argv[0]).exists():
            compare.log(f"{name}: not installed, skipped")
            continue
        count_file = work / f"{name}.upstream-count"
        upstream = compare.start([sys.executable, __file__, "--hedge", args.hedge, "--upstream",
                                  str(count_file)], 1, work / f"{name}.upstream.log")
        proc = compare.start(argv, 0, work / f"{name}.log", env=dict(os.environ, RUST_LOG="warn"))
        try:
            compare.wait_blocking(compare.SERVER_PORT, blocked[0], time.monotonic())
            before = int(count_file.read_text() or 0) if count_file.exists() else 0
            argv_perf = ["taskset", "-c", "1", "dnsperf", "-s", "127.0.0.1", "-p", str(compare.SERVER_PORT),
                         "-d", str(queries), "-n", "1", "-c", str(args.clients), "-Q", str(args.rate),
                         "-t", "5", "-v"]
            out = subprocess.run(argv_perf, capture_output=True, text=True, timeout=args.seconds * 3).stdout
            time.sleep(0.5)
            asked = int(count_file.read_text() or 0) - before
            latencies = sorted(float(line.rsplit(None, 1)[1]) * 1000 for line in out.splitlines()
                               if line.startswith("> ") and not line.startswith("> T "))
            lost = sum(1 for line in out.splitlines() if line.startswith("> T "))
            results[name] = dict(mean=statistics.fmean(latencies), p50=percentile(latencies, 0.50),
                                 p95=percentile(latencies, 0.95), p99=percentile(latencies, 0.99),
                                 asked=asked, answered=len(latencies), lost=lost)
            compare.log(f"{name}: mean {results[name]['mean']:.2f} ms, p99 {results[name]['p99']:.2f} ms, "
                        f"{asked:,} upstream questions, {lost} lost")
        finally:
            compare.stop(proc)
            compare.stop(upstream)
        time.sleep(0.5)
    shutil.rmtree(work, ignore_errors=True)

    ref = results.get("unbound")
    print(f"{len(replay):,} queries at {args.rate}/s over {args.seconds} s from {args.clients} clients, "
          f"{len(names):,} names (Zipf-like), upstream 20-40 ms")
    print("| server | mean ms | x | p50 ms | x | p95 ms | x | p99 ms | x | upstream questions | x | lost |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        cells = []
        for key in ("mean", "p50", "p95", "p99", "asked"):
            ratio = r[key] / ref[key] if ref and ref[key] else float("nan")
            value = f"{r[key]:,}" if key == "asked" else f"{r[key]:.2f}"
            cells.append(f"{value} | {ratio:.2f}")
        print(f"| {name} | " + " | ".join(cells) + f" | {r['lost']} |")


if __name__ == "__main__":
    main()
