"""The batches the batch-ingest scenario sends and its pgbench ceiling runs:
1,000 events each, 40% High or Critical, a tenth of those with a dedup key
from a small pool (so they attach to a few open alerts, as a noisy detector's
would). Seeded, so every run sends the same batches."""

import json
import os
import random

BATCH_SIZE = 1000
ALERTING_SHARE = 0.4
KEYED_SHARE = 0.1  # of the alerting events
KEY_POOL = 50
EVENT_TYPES = ("intrusion", "malware", "anomaly")


def batch(seed, size=BATCH_SIZE):
    """{"events": [...]} for POST /api/events/batch/."""
    rng = random.Random(seed)
    events = []
    for _ in range(size):
        alerting = rng.random() < ALERTING_SHARE
        severity = rng.choice(("High", "Critical") if alerting else ("Low", "Medium"))
        event = {"source": f"sensor-{rng.randrange(200):03d}", "event_type": rng.choice(EVENT_TYPES),
                 "severity": severity,
                 "description": f"bench batch: suspicious traffic burst {rng.randrange(10**9)}"}
        if alerting and rng.random() < KEYED_SHARE:
            event["dedup_key"] = f"bench-dedup-{rng.randrange(KEY_POOL):02d}"
        events.append(event)
    return {"events": events}


def write(directory, count, size=BATCH_SIZE):
    """Writes batch-0.json .. batch-(count-1).json; their paths."""
    os.makedirs(directory, exist_ok=True)
    paths = []
    for n in range(count):
        path = os.path.join(directory, f"batch-{n}.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(batch(n, size), f, separators=(",", ":"))
        paths.append(path)
    return paths
