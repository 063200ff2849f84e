#!/usr/bin/env python3
"""Strict parser for the Prometheus text exposition format (version 0.0.4).

Reads the exposition on stdin, checks every line, prints a summary of the
families, and exits 1 on the first malformed line.  With arguments, each is a
metric family that must be present.
"""
import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
SAMPLE = re.compile(
    rf"^({NAME})(\{{(?:{LABEL})(?:,{LABEL})*\}})? "
    r"([-+]?(?:[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|NaN|[-+]?Inf))"
    r"( [0-9]+)?$")
TYPE = re.compile(rf"^# TYPE ({NAME}) (counter|gauge|histogram|summary|untyped)$")
HELP = re.compile(rf"^# HELP ({NAME}) .*$")


def main():
    types = {}
    seen = set()
    current = None
    for n, line in enumerate(sys.stdin.read().split("\n"), 1):
        if line == "":
            continue
        m = TYPE.match(line)
        if m:
            if m.group(1) in types:
                sys.exit(f"line {n}: second TYPE for {m.group(1)}")
            types[m.group(1)] = m.group(2)
            current = m.group(1)
            continue
        if HELP.match(line) or line.startswith("# "):
            continue
        m = SAMPLE.match(line)
        if not m:
            sys.exit(f"line {n}: malformed: {line!r}")
        name = m.group(1)
        family = re.sub(r"_(bucket|sum|count)$", "", name) \
            if types.get(re.sub(r"_(bucket|sum|count)$", "", name)) == "histogram" else name
        if family != current:
            sys.exit(f"line {n}: {name} is not under its family's TYPE line")
        seen.add(family)
    missing = [f for f in sys.argv[1:] if f not in seen]
    if missing:
        sys.exit("missing families: " + ", ".join(missing))
    print(f"{len(seen)} families, all lines well-formed")


if __name__ == "__main__":
    main()
