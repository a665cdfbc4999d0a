#!/usr/bin/env python3
"""Replaces one "## " section of docs/benchmarks.md with new text, or appends it: the benchmark
scripts (bench/*.sh) each own one section.

usage: bench/doc_section.py DOC "## Heading" < BODY   (BODY: the section's text under its heading)
"""
import sys

doc, heading = sys.argv[1], sys.argv[2]
body = sys.stdin.read().strip("\n")
lines = open(doc).read().rstrip("\n").split("\n")
section = [heading, "", *body.split("\n"), ""]
if heading in lines:
    start = lines.index(heading)
    end = start + 1
    while end < len(lines) and not lines[end].startswith("## "):
        end += 1
    lines = lines[:start] + section + lines[end:]
else:
    lines += ["", *section]
open(doc, "w").write("\n".join(lines).rstrip("\n") + "\n")
