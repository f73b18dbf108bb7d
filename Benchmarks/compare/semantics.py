"""The comparison rule (pass-through.yaml) in plain Python, shared by the two Python peers.

Input lines are the canonical stream written by compare.py: integer `ts` (strictly increasing),
`amount` as a decimal string with exactly four fraction digits (so units = the digits).
"""
from collections import deque

WINDOW_MS = 2 * 3600 * 1000
COOLDOWN_MS = 24 * 3600 * 1000
MIN_PAYERS = 5
MIN_PASS_THROUGH = 0.9
LEG_CAP = 1024  # MuleStream's per-account leg cap (DetectorConfig.maxLegsPerAccount)


def legs_of(event):
    """The two legs of one transfer: (account, (ts, is_credit, units, counterparty))."""
    ts = event["ts"]
    units = int(event["amount"].replace(".", ""))
    payer, payee = event["payer"], event["payee"]
    return ((payee, (ts, True, units, payer)), (payer, (ts, False, units, payee)))


class AccountWindow:
    """One account's legs in the window and the event time of its last alert."""

    __slots__ = ("legs", "last_alert")

    def __init__(self):
        self.legs = deque(maxlen=LEG_CAP)
        self.last_alert = None

    def add(self, leg):
        """Adds a leg; on a debit, returns True when the rule alerts."""
        ts, is_credit = leg[0], leg[1]
        legs = self.legs
        keep_from = ts - WINDOW_MS
        while legs and legs[0][0] < keep_from:
            legs.popleft()
        legs.append(leg)
        if is_credit:
            return False
        payers = set()
        in_units = 0
        unspent = 0
        matched = 0
        for _, credit, units, counterparty in legs:
            if credit:
                payers.add(counterparty)
                in_units += units
                unspent += units
            else:
                take = units if units < unspent else unspent
                unspent -= take
                matched += take
        if len(payers) < MIN_PAYERS or in_units == 0 or matched / in_units < MIN_PASS_THROUGH:
            return False
        if self.last_alert is not None and ts < self.last_alert + COOLDOWN_MS:
            return False
        self.last_alert = ts
        return True
