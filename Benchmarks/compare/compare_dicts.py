"""Peer (b): the comparison rule as a straightforward single-threaded Python loop over dicts.

usage: python compare_dicts.py EVENTS.ndjson ALERTS.ndjson
Writes one {"account","event_ts"} line per alert.
"""
import json
import sys
import time

from semantics import AccountWindow, legs_of


def main(events_path, alerts_path):
    start = time.perf_counter()
    accounts = {}
    alerts = []
    n = 0
    with open(events_path, "rb") as f:
        for line in f:
            n += 1
            for account, leg in legs_of(json.loads(line)):
                w = accounts.get(account)
                if w is None:
                    w = accounts[account] = AccountWindow()
                if w.add(leg):
                    alerts.append((account, leg[0]))
    with open(alerts_path, "w") as out:
        for account, ts in alerts:
            out.write(json.dumps({"account": account, "event_ts": ts}) + "\n")
    print(f"dicts: {n} events, {len(alerts)} alerts, {time.perf_counter() - start:.2f} s", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
