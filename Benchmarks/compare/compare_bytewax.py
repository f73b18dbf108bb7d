"""Peer (c): the comparison rule as a Bytewax dataflow: the stream is keyed by account and a
keyed stateful operator keeps each account's window (Bytewax's own window operators are
clock-aligned tumbling/sliding/session windows; this rule evaluates the trailing two hours at
every debit, which is per-key state with eviction).

usage: python compare_bytewax.py EVENTS.ndjson ALERTS.ndjson   (one worker)
"""
import json
import sys
import time

import bytewax.operators as op
from bytewax.connectors.files import FileSource
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, run_main

from semantics import AccountWindow, legs_of


def window_step(state, leg):
    if state is None:
        state = AccountWindow()
    return state, (leg[0] if state.add(leg) else None)


def build(events_path, alerts):
    flow = Dataflow("pass_through")
    lines = op.input("events", flow, FileSource(events_path))
    legs = op.flat_map("legs", lines, lambda line: legs_of(json.loads(line)))
    verdicts = op.stateful_map("window", legs, window_step)
    flagged = op.filter_map("alerts", verdicts, lambda kv: None if kv[1] is None else kv)
    op.output("out", flagged, TestingSink(alerts))
    return flow


if __name__ == "__main__":
    start = time.perf_counter()
    alerts = []
    run_main(build(sys.argv[1], alerts))
    with open(sys.argv[2], "w") as out:
        for account, ts in alerts:
            out.write(json.dumps({"account": account, "event_ts": ts}) + "\n")
    print(f"bytewax: {len(alerts)} alerts, {time.perf_counter() - start:.2f} s", file=sys.stderr)
