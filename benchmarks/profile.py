"""Where our load generator spends its CPU: py-spy over `locust -f locustfile.py` against the Node firehose.

A script, not a test. The firehose runs on --server-core, Locust (ours, headless) on --gen-core, py-spy samples
the Locust process (`--rate` per second, skipping idle samples) for --seconds, then this prints the functions
with the largest self and inclusive shares, and the Locust- vs loadtest- vs gevent-owned totals.

    .venv/bin/pip install py-spy
    .venv/bin/python benchmarks/profile.py                       # ChatUser, 50 users, no think time
    .venv/bin/python benchmarks/profile.py --user IdleUser --stream-rate 150 --users 200
    .venv/bin/python benchmarks/profile.py --raw /tmp/prof.txt   # keep the collapsed stacks (flamegraph input)
    .venv/bin/python benchmarks/profile.py --locust-args '--locust-rows batched'

Loopback only; bounded by --seconds.
"""

from __future__ import annotations

import argparse
import collections
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _procs import LOCUST, ROOT, Firehose, pin

OWNERS = (("loadtest", "loadtest/"), ("locust", "locust/"), ("gevent", "gevent/"))
# gevent's threadpool workers block in a lock; py-spy cannot tell that from running, so they are left out
OTHER_THREADS = "_WorkerGreenlet.run"


def _owner(frame: str) -> str:
    for name, needle in OWNERS:
        if needle in frame:
            return name
    return "other"


def _short(frame: str) -> str:
    """`func (path/to/file.py:12)` → `func (file.py)`; py-spy's raw frames carry the line, which splits a function."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    return f"{name} ({'/'.join(Path(path).parts[-2:])})"


def summarize(raw: Path, top: int) -> None:
    self_t: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    owners: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        if OTHER_THREADS in stack:
            continue
        frames = [_short(f) for f in stack.split(";")]
        total += n
        self_t[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
        owners[_owner(stack.split(";")[-1])] += n
    if not total:
        print("no samples")
        return
    print(f"{total} samples (non-idle)")
    print("owner of the leaf frame: " + ", ".join(f"{k} {v / total:.0%}" for k, v in owners.most_common()))
    print("\n| self | function |\n|---:|---|")
    for f, n in self_t.most_common(top):
        print(f"| {n / total:.1%} | {f} |")
    print("\n| inclusive | function |\n|---:|---|")
    for f, n in incl.most_common(top * 2):
        print(f"| {n / total:.1%} | {f} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--user", default="ChatUser")
    p.add_argument("--users", type=int, default=50)
    p.add_argument("--events", type=int, default=4)
    p.add_argument("--stream-rate", type=float, default=0.0, help="events/s pushed to each connection (IdleUser)")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--warmup", type=float, default=5.0)
    p.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--locust-args", default="", help="more options for locust, e.g. '--locust-rows batched'")
    p.add_argument("--raw", type=Path, help="keep py-spy's collapsed stacks here")
    p.add_argument("--server-core", type=int, default=1)
    p.add_argument("--gen-core", type=int, default=0)
    args = p.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    server = Firehose(args.server_core, events=args.events)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run_s = int(args.seconds + args.warmup + 3)
            argv = [*pin(args.gen_core), LOCUST, "-f", str(ROOT / "locustfile.py"), "--headless", "-u", str(args.users)]
            argv += ["-r", str(args.users), "-t", f"{run_s}s", "--host", server.url, "--only-summary"]
            argv += ["--loglevel", "WARNING", "--report-dir", f"{tmp}/run", "--skip-report"]
            argv += ["--think-time", "0s"] if args.user != "IdleUser" else []
            argv += [*shlex.split(args.locust_args), args.user]
            gen = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                time.sleep(args.warmup)
                if args.stream_rate:
                    server.stream(args.stream_rate, args.seconds + 2)
                raw = args.raw or Path(tmp) / "raw.txt"
                subprocess.run(
                    [spy, "record", "-r", str(args.rate), "-f", "raw", "-o", str(raw), "-d", str(int(args.seconds)),
                     "-p", str(gen.pid)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
                summarize(raw, args.top)
            finally:
                gen.wait(run_s + 30)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
