#!/usr/bin/env python3
"""Checks the layering of the source tree (ctest `layers`): every #include of a project header
points to the file's own folder or to a folder LOWER in LAYERS, never higher; the collector and
the exporter never include each other; and no folder holds a side .cmake file. docs/architecture.md draws the same order.

usage: check_layers.py SOURCE_DIR        Exit 0 pass, 1 fail.
"""
import os
import re
import sys

# Lowest first. A folder may include its own headers and those of any folder before it.
LAYERS = [
    "common",
    "http",
    "wire",
    "capture",
    "templates",
    "metrics",
    "enrich",
    "ngnetflow",
    "exporter/meter",
    "exporter/encode",
    "exporter/send",
    "exporter/app",
    "exporter",
    "collector/decode",
    "collector/filter",
    "collector/store",
    "collector/receive",
    "collector/ha",
    "collector/stats",
    "collector/output/format",
    "collector/output/aggregate",
    "collector/output/csv",
    "collector/output/clickhouse",
    "collector/output/report",
    "collector/output/fanout",
    "collector/app",
    "collector",
    "tools/trafgen",
]
# Branches that share only the layers below them: the collector never uses the exporter's
# code, nor the exporter the collector's, whatever their order above.
SEPARATE = [("collector", "exporter"), ("exporter", "collector")]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def folder_of(path):
    """The deepest layer folder that contains `path`, or None."""
    best = None
    for layer in LAYERS:
        if path == layer or path.startswith(layer + "/"):
            if best is None or len(layer) > len(best):
                best = layer
    return best


def main():
    src = sys.argv[1]
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    problems = []
    for layer in LAYERS:
        top = os.path.join(src, layer)
        for name in sorted(os.listdir(top)):
            path = os.path.join(top, name)
            if not os.path.isfile(path):
                continue
            rel = os.path.relpath(path, src)
            if name.endswith(".cmake"):
                problems.append(f"{rel}: side .cmake file (build rules belong in CMakeLists.txt)")
            if not name.endswith((".cc", ".h")):
                continue
            with open(path, encoding="utf-8") as f:
                text = f.read()
            for inc in INCLUDE.findall(text):
                target = folder_of(inc)
                if target is None:
                    continue  # generated, third-party or not a layered folder
                if rank[target] > rank[layer]:
                    problems.append(f"{rel} includes {inc}: {target} is above {layer}")
                for a, b in SEPARATE:
                    if (layer == a or layer.startswith(a + "/")) and (
                            target == b or target.startswith(b + "/")):
                        problems.append(f"{rel} includes {inc}: {a}/ must not use {b}/")
    for p in problems:
        print("FAIL: " + p)
    if problems:
        return 1
    print(f"PASS: {len(LAYERS)} folders, every include points down or sideways within a folder")
    return 0


if __name__ == "__main__":
    sys.exit(main())
