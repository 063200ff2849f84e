#!/usr/bin/env python3
"""Strict checker for the Prometheus text exposition format (version 0.0.4).

Reads the exposition on stdin and exits 1 naming the first line that breaks
the format: a malformed sample, a label value with an unescaped quote or an
unknown escape, a duplicate label, a value that is not a float, a sample
before its family's TYPE line, a family without HELP, a second HELP or TYPE,
a family split in two groups, a series written twice, a histogram whose
buckets are not cumulative or whose +Inf bucket differs from its _count.
The same text must then parse with the Prometheus project's own Python
parser (python3-prometheus-client) to the same families and samples.

With arguments, each is a metric family that must be present.  With
--json, prints the samples (labels unescaped) as a JSON list instead of the
summary.
"""
import json
import math
import re
import sys

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
FLOAT = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$"
                   r"|[-+]?Inf$|NaN$")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
LABEL_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}
HELP_ESCAPES = {"\\": "\\", "n": "\n"}


class Bad(Exception):
    pass


def unescape(text, escapes, what):
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 >= len(text) or text[i + 1] not in escapes:
                raise Bad(f"bad escape in {what}: {text[i:i + 2]!r}")
            out.append(escapes[text[i + 1]])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def parse_value(text):
    if not FLOAT.match(text):
        raise Bad(f"not a float value: {text!r}")
    return float(text.replace("Inf", "inf").replace("NaN", "nan"))


def parse_labels(line, i):
    """Parse `{a="x",b="y"}` starting at line[i] == '{'; returns (dict, end)."""
    labels = {}
    i += 1
    if i < len(line) and line[i] == "}":
        return labels, i + 1
    while True:
        m = LABEL_NAME.match(line, i)
        if not m:
            raise Bad(f"bad label name at column {i + 1}")
        key = m.group(0)
        i = m.end()
        if line[i:i + 2] != '="':
            raise Bad(f"label {key}: expected =\"")
        i += 2
        start = i
        while i < len(line) and line[i] != '"':
            i += 2 if line[i] == "\\" else 1
        if i >= len(line):
            raise Bad(f"label {key}: unterminated value")
        if key in labels:
            raise Bad(f"label {key} given twice")
        labels[key] = unescape(line[start:i], LABEL_ESCAPES, f"label {key}")
        i += 1
        if i < len(line) and line[i] == ",":
            i += 1
            if i < len(line) and line[i] == "}":
                return labels, i + 1
            continue
        if i < len(line) and line[i] == "}":
            return labels, i + 1
        raise Bad(f"label {key}: expected , or }} after the value "
                  "(an unescaped quote?)")


def parse_sample(line):
    m = NAME.match(line)
    if not m:
        raise Bad("a sample must start with a metric name")
    name, i = m.group(0), m.end()
    labels = {}
    if i < len(line) and line[i] == "{":
        labels, i = parse_labels(line, i)
    if i >= len(line) or line[i] != " ":
        raise Bad("expected one space before the value")
    fields = line[i + 1:].split(" ")
    if len(fields) not in (1, 2) or "" in fields:
        raise Bad("expected `value [timestamp]` after the name")
    value = parse_value(fields[0])
    if len(fields) == 2 and not re.fullmatch(r"-?[0-9]+", fields[1]):
        raise Bad(f"bad timestamp {fields[1]!r}")
    return name, labels, value


def family_of(name, types):
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[:-len(suffix)]
        if name.endswith(suffix) and types.get(base) in ("histogram", "summary"):
            return base
    return name


def check_histogram(family, samples):
    series = {}
    for name, labels, value in samples:
        key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        s = series.setdefault(key, {"buckets": [], "count": None, "sum": None})
        if name == family + "_bucket":
            if "le" not in labels:
                raise Bad(f"{family}: a bucket without le")
            s["buckets"].append((parse_value(labels["le"]), value))
        elif name == family + "_count":
            s["count"] = value
        elif name == family + "_sum":
            s["sum"] = value
        else:
            raise Bad(f"{family}: {name} is not a histogram sample")
    for key, s in series.items():
        b = s["buckets"]
        if not b or b[-1][0] != math.inf:
            raise Bad(f"{family}{dict(key)}: no +Inf bucket, or not last")
        if any(b[k][0] >= b[k + 1][0] or b[k][1] > b[k + 1][1]
               for k in range(len(b) - 1)):
            raise Bad(f"{family}{dict(key)}: buckets not increasing/cumulative")
        if s["count"] is None or s["sum"] is None:
            raise Bad(f"{family}{dict(key)}: _sum or _count missing")
        if s["count"] != b[-1][1]:
            raise Bad(f"{family}{dict(key)}: _count differs from the +Inf bucket")


def check(text):
    """Returns (families in order, samples); raises Bad with a line number."""
    if text and not text.endswith("\n"):
        raise Bad("the last line does not end with a newline")
    types, helps, order, samples, series = {}, {}, [], [], set()
    per_family = {}
    closed = set()
    current = None

    def enter(family, n):
        nonlocal current
        if family != current:
            if family in closed or family in per_family and current is not None:
                raise Bad(f"line {n}: family {family} split in two groups")
            if current is not None:
                closed.add(current)
            current = family

    for n, line in enumerate(text.split("\n")[:-1] if text else [], 1):
        try:
            if line == "":
                continue
            if line.startswith("#"):
                parts = line.split(" ", 3)
                if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                    if not NAME.fullmatch(parts[2]):
                        raise Bad(f"bad metric name {parts[2]!r}")
                    family = parts[2]
                    enter(family, n)
                    if family in per_family:
                        raise Bad(f"{parts[1]} for {family} after its samples")
                    if parts[1] == "HELP":
                        if family in helps:
                            raise Bad(f"second HELP for {family}")
                        helps[family] = unescape(parts[3] if len(parts) > 3 else "",
                                                 HELP_ESCAPES, "HELP")
                    else:
                        if family in types:
                            raise Bad(f"second TYPE for {family}")
                        if len(parts) != 4 or parts[3] not in TYPES:
                            raise Bad(f"bad TYPE line for {family}")
                        types[family] = parts[3]
                elif re.match(r"#\s*(HELP|TYPE)\b", line):
                    raise Bad("malformed HELP/TYPE line")
                continue
            name, labels, value = parse_sample(line)
            family = family_of(name, types)
            if family not in types:
                raise Bad(f"{name} comes before its family's TYPE line")
            enter(family, n)
            if types[family] not in ("histogram", "summary") and name != family:
                raise Bad(f"{name} is not a sample name of {family}")
            key = (name, tuple(sorted(labels.items())))
            if key in series:
                raise Bad(f"series {name}{labels} written twice")
            series.add(key)
            if family not in per_family:
                order.append(family)
            per_family.setdefault(family, []).append((name, labels, value))
            samples.append({"name": name, "labels": labels, "value": value})
        except Bad as e:
            msg = str(e)
            raise Bad(msg if msg.startswith("line ") else f"line {n}: {msg}: {line!r}")
    for family in list(types) + list(helps):
        if family not in helps:
            raise Bad(f"family {family} has no HELP line")
        if family not in types:
            raise Bad(f"family {family} has no TYPE line")
    for family, fs in per_family.items():
        if types[family] == "histogram":
            check_histogram(family, fs)
    return order, samples


def cross_check(text, order, samples):
    """The Prometheus client's own parser must read the same thing."""
    from prometheus_client.parser import text_string_to_metric_families
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # its parser raises ValueError and friends
        raise Bad(f"prometheus_client cannot parse it: {e}")
    theirs = sorted((s.name, tuple(sorted(s.labels.items())))
                    for f in families for s in f.samples)
    ours = sorted((s["name"], tuple(sorted(s["labels"].items())))
                  for s in samples)
    if theirs != ours:
        raise Bad("prometheus_client reads other samples: "
                  f"{sorted(set(theirs) ^ set(ours))[:5]}")


def main():
    args = sys.argv[1:]
    as_json = "--json" in args
    wanted = [a for a in args if a != "--json"]
    text = sys.stdin.read()
    try:
        order, samples = check(text)
        cross_check(text, order, samples)
    except Bad as e:
        sys.exit(str(e))
    missing = [f for f in wanted if f not in order]
    if missing:
        sys.exit("missing families: " + ", ".join(missing))
    if as_json:
        json.dump(samples, sys.stdout)
        print()
    else:
        print(f"{len(order)} families, {len(samples)} samples, all well-formed")


if __name__ == "__main__":
    main()
