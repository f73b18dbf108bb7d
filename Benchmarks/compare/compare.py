"""Side by side: one simulated stream, one receive-and-forward rule (pass-through.yaml), three
implementations — MuleStream (`mulestream backtest`), plain Python dicts (compare_dicts.py) and
Bytewax (compare_bytewax.py). Prints events/s, peak RSS and ratios, and checks that all three
raise exactly the same alerts (same accounts at the same event times). Run through compare.sh.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from decimal import Decimal

HERE = os.path.dirname(os.path.abspath(__file__))
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def to_millis(ts):
    if isinstance(ts, int):
        return ts
    return (datetime.datetime.fromisoformat(ts) - EPOCH) // datetime.timedelta(milliseconds=1)


def canonical_stream(raw_path, out_path):
    """Rewrites the simulator's stream so every peer reads the same simple form: integer `ts`,
    strictly increasing (ties broken by file order, moved 1 ms apart: MuleStream orders equal
    timestamps by a hash of the id, which a peer would otherwise have to copy), `amount` as a
    string with four fraction digits, duplicate ids dropped."""
    seen = set()
    last = None
    kept = moved = dropped = 0
    with open(raw_path, "rb") as src, open(out_path, "w") as out:
        for line in src:
            e = json.loads(line, parse_float=Decimal)
            if e["id"] in seen or e["payer"] == e["payee"]:
                dropped += 1
                continue
            seen.add(e["id"])
            ts = to_millis(e["ts"])
            if last is not None and ts <= last:
                ts = last + 1
                moved += 1
            last = ts
            units = int(Decimal(str(e["amount"])) * 10000)
            e["ts"] = ts
            e["amount"] = f"{units // 10000}.{units % 10000:04d}"
            out.write(json.dumps(e, separators=(",", ":")) + "\n")
            kept += 1
    return kept, moved, dropped


def measure(name, argv, cwd=None):
    """Runs one peer; returns wall seconds and its peak RSS in MiB (getrusage of the child)."""
    with open(os.path.join(os.path.dirname(argv[-1]), "stderr.txt"), "w+") as log:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=log)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        err = log.read()
    if proc.returncode != 0:
        sys.exit(f"compare: {name} failed ({' '.join(argv)}):\n{err}")
    return wall, usage.ru_maxrss / 1024


def read_alerts(path):
    pairs = set()
    with open(path) as f:
        for line in f:
            if line.strip():
                a = json.loads(line)
                pairs.add((a["account"], a["event_ts"]))
    return pairs


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--mulestream", required=True, help="release mulestream binary")
    p.add_argument("--bytewax-python", help="python of the venv with bytewax (without it: MuleStream and dicts only)")
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--accounts", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workdir", required=True)
    args = p.parse_args()
    args.mulestream = os.path.abspath(args.mulestream)
    args.workdir = os.path.abspath(args.workdir)
    if args.bytewax_python:
        args.bytewax_python = os.path.abspath(args.bytewax_python)
    os.makedirs(args.workdir, exist_ok=True)
    w = lambda name: os.path.join(args.workdir, name)

    subprocess.run([args.mulestream, "simulate", "--seed", str(args.seed), "--accounts", str(args.accounts),
                    "--events", str(args.events), "--out", w("raw.ndjson"), "--labels", w("labels.csv")],
                   check=True, stdout=subprocess.DEVNULL)
    events = w("events.ndjson")
    kept, moved, dropped = canonical_stream(w("raw.ndjson"), events)
    print(f"stream: {kept} events (mulestream simulate --seed {args.seed} --accounts {args.accounts} "
          f"--events {args.events}; {moved} timestamps moved 1 ms to break ties, {dropped} dropped)")
    rule = os.path.join(HERE, "pass-through.yaml")
    peers = [
        ("MuleStream (backtest)", [args.mulestream, "backtest", "--events", events, "--rules", rule,
                                   "--alerts-out", w("alerts-mulestream.ndjson")], w("alerts-mulestream.ndjson")),
        ("Python dicts", [sys.executable, os.path.join(HERE, "compare_dicts.py"), events, w("alerts-dicts.ndjson")],
         w("alerts-dicts.ndjson")),
    ]
    if args.bytewax_python:
        peers.append(("Bytewax 1 worker", [args.bytewax_python, os.path.join(HERE, "compare_bytewax.py"), events,
                                           w("alerts-bytewax.ndjson")], w("alerts-bytewax.ndjson")))
    else:
        print("(no --bytewax-python: Bytewax not run)")
    rows = []
    for name, argv, out in peers:
        wall, rss = measure(name, argv, cwd=HERE)
        rows.append((name, wall, rss, read_alerts(out)))
        print(f"  ran {name}: {wall:.2f} s", flush=True)

    base_rate = kept / rows[0][1]
    base_rss = rows[0][2]
    print()
    print(f"| implementation | wall s | events/s | MuleStream is × faster | peak RSS MiB | RSS ÷ MuleStream | alerts | accounts |")
    print(f"| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, wall, rss, alerts in rows:
        rate = kept / wall
        print(f"| {name} | {wall:.2f} | {rate:,.0f} | {base_rate / rate:.1f} | {rss:.0f} | {rss / base_rss:.2f} | "
              f"{len(alerts)} | {len({a for a, _ in alerts})} |")
    print("(wall time of the whole process: start-up, reading and parsing the file, the rule, writing alerts)")
    print()
    reference = rows[0][3]
    same = True
    for name, _, _, alerts in rows[1:]:
        accounts_equal = {a for a, _ in alerts} == {a for a, _ in reference}
        if alerts == reference:
            print(f"check: {name} raised exactly MuleStream's {len(reference)} alerts (same accounts, same event times)")
        else:
            same = False
            print(f"check FAILED: {name} differs from MuleStream (accounts equal: {accounts_equal}); "
                  f"only MuleStream: {sorted(reference - alerts)[:5]}, only {name}: {sorted(alerts - reference)[:5]}")
    if not reference:
        print("check FAILED: no alerts at all; the comparison proves nothing")
        same = False
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
