#!/usr/bin/env python3
"""Seed each fuzz target's corpus (fuzz/corpus/<target>/, not committed) from the sample events
under events/ and the hand-written seeds under fuzz/seeds/<target>/. Idempotent: seeds are
named after their origin and rewritten; what the fuzzer added to a corpus stays.

    event              every sample event, invalid ones included, as it is
    cloudtrail_record  the `detail` (a CloudTrail record) of every API-call and sign-in sample
    policy             every policy document the samples carry, as sent and URL-encoded
    pattern            every sample event (matched against the templates' rules), and the
                       [pattern, event] pairs of fuzz/seeds/pattern/
"""

import json
import sys
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
SEEDS = ROOT / "fuzz" / "seeds"
CORPUS = ROOT / "fuzz" / "corpus"
TARGETS = ["event", "cloudtrail_record", "policy", "pattern"]


def policy_documents(value):
    """Every `policyDocument` (and `assumeRolePolicyDocument`) anywhere in a JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key.lower().endswith("policydocument") and isinstance(item, (str, dict)):
                yield item if isinstance(item, str) else json.dumps(item)
            else:
                yield from policy_documents(item)
    elif isinstance(value, list):
        for item in value:
            yield from policy_documents(item)


def main():
    corpus = {target: {} for target in TARGETS}
    samples = sorted(p for p in EVENTS.rglob("*") if p.is_file() and p.suffix in (".json", ".txt"))
    for path in samples:
        name = "events-" + "-".join(path.relative_to(EVENTS).with_suffix("").parts)
        raw = path.read_bytes()
        corpus["event"][name] = raw
        corpus["pattern"][name] = raw
        try:
            event = json.loads(raw)
        except ValueError:
            continue
        detail = event.get("detail") if isinstance(event, dict) else None
        if isinstance(detail, dict) and "eventName" in detail:
            corpus["cloudtrail_record"][name] = json.dumps(detail).encode()
        for i, document in enumerate(policy_documents(event)):
            corpus["policy"][f"{name}-{i}"] = document.encode()
            encoded = urllib.parse.quote(document, safe="")
            corpus["policy"][f"{name}-{i}-encoded"] = encoded.encode()
    for target in TARGETS:
        for path in sorted((SEEDS / target).glob("*")) if (SEEDS / target).is_dir() else []:
            corpus[target]["seeds-" + path.stem] = path.read_bytes()
    for target, files in corpus.items():
        directory = CORPUS / target
        directory.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            (directory / f"seed-{name}").write_bytes(content)
        print(f"fuzz/corpus/{target}: {len(files)} seeds", file=sys.stderr)


if __name__ == "__main__":
    main()
