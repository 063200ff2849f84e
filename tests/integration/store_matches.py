#!/usr/bin/env python3
"""Check that a store collection holds exactly the images of a folder.

usage: store_matches.py FOLDER < search-output

The input is `embsync search ... -k BIG` output: one hit per line,
"reference<TAB>score<TAB>id<TAB>payload".  Every image under FOLDER (by extension) must
appear exactly once, with a payload whose path, size and mtime match the
file; nothing else may appear.  Prints what differs and exits 1.
"""
import json
import os
import sys

EXTENSIONS = (".jpg", ".jpeg", ".png")


def folder_images(root):
    found = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            if name.lower().endswith(EXTENSIONS):
                full = os.path.join(dirpath, name)
                found[os.path.relpath(full, root)] = os.stat(full)
    return found


def main():
    root = sys.argv[1]
    want = folder_images(root)
    seen = {}
    problems = []
    for line in sys.stdin:
        line = line.rstrip("\n")
        if not line:
            continue
        _reference, _score, item_id, payload = line.split("\t", 3)
        p = json.loads(payload)
        path = p.get("path")
        if path in seen:
            problems.append(f"{path}: stored twice (ids {seen[path]}, {item_id})")
        seen[path] = item_id
        st = want.get(path)
        if st is None:
            problems.append(f"{path}: in the store but not in the folder")
            continue
        if p.get("size") != st.st_size:
            problems.append(f"{path}: size {p.get('size')} != {st.st_size}")
        dataset = os.path.dirname(path)
        if p.get("dataset") != dataset:
            problems.append(f"{path}: dataset {p.get('dataset')!r} != {dataset!r}")
    for path in want:
        if path not in seen:
            problems.append(f"{path}: in the folder but not in the store")
    for problem in problems:
        print("# " + problem)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
