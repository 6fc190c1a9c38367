#!/usr/bin/env python3
"""Validate agentsim's OpenMetrics files with an independent parser.

Usage: check.py FILE...   (exit 0: valid; 1: invalid, with the reason;
                            3: prometheus_client is not installed)

Each file is parsed with prometheus_client's OpenMetrics parser
(text_string_to_metric_families), which rejects anything the format
forbids (a missing `# EOF`, a counter sample without `_total`, a
histogram without `+Inf`, a name declared twice, ...). On top of the
format, agentsim's own conventions (docs/metrics.md) are checked:
- a family whose name ends in a unit (`_seconds`, `_bytes`, `_ratio`)
  declares it with `# UNIT`, and no family puts a unit before another
  word (`bytes_sent`);
- one family per quantity: no `by_<label>` families;
- label names come from one vocabulary;
- a name has the same type in every file given (run and sweep).
"""
import sys

try:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
except ImportError:
    print("prometheus_client is not installed (pip install prometheus_client)")
    sys.exit(3)

UNITS = ("seconds", "bytes", "ratio")
LABELS = {"scenario", "seed", "type", "cause", "kind", "state", "outcome", "check",
          "le", "quantile"}


def check_file(path, types):
    text = open(path, encoding="utf-8").read()
    problems = []
    families = list(text_string_to_metric_families(text))
    for fam in families:
        words = fam.name.split("_")
        for u in UNITS:
            if fam.name.endswith("_" + u) and fam.unit != u:
                problems.append(f"{fam.name}: ends in _{u} but has no '# UNIT {fam.name} {u}'")
            if u in words[:-1]:
                problems.append(f"{fam.name}: unit '{u}' is not the last word")
        if "by" in words:
            problems.append(f"{fam.name}: a by_<label> family; use a label on one family")
        for s in fam.samples:
            extra = set(s.labels) - LABELS
            if extra:
                problems.append(f"{s.name}: label(s) {sorted(extra)} outside the vocabulary")
        seen = types.setdefault(fam.name, (fam.type, path))
        if seen[0] != fam.type:
            problems.append(f"{fam.name}: {fam.type} in {path} but {seen[0]} in {seen[1]}")
    return families, problems


def main(paths):
    types = {}
    bad = False
    for p in paths:
        try:
            families, problems = check_file(p, types)
        except ValueError as e:
            print(f"{p}: not OpenMetrics: {e}")
            bad = True
            continue
        for pr in problems:
            print(f"{p}: {pr}")
        bad = bad or bool(problems)
        samples = sum(len(f.samples) for f in families)
        print(f"{p}: {len(families)} families, {samples} samples")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
