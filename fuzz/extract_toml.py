#!/usr/bin/env python3
"""Writes the TOML that the tests spell out (raw strings and string literals with newlines) as fuzzer seeds.

usage: extract_toml.py TESTS_DIR OUT_DIR
"""
import codecs
import pathlib
import re
import sys

tests, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
raw = re.compile(r'R"\((.*?)\)"', re.S)
literal = re.compile(r'"((?:[^"\\\n]|\\.)*\\n(?:[^"\\\n]|\\.)*)"')
count = 0
for source in sorted(tests.glob("*.cpp")):
    text = source.read_text(errors="replace")
    pieces = raw.findall(text)
    for s in literal.findall(text):
        try:
            pieces.append(codecs.decode(s, "unicode_escape"))
        except UnicodeDecodeError:
            continue
    for i, piece in enumerate(pieces):
        if "=" not in piece:
            continue
        (out / f"test_{source.stem}_{i}.toml").write_text(piece)
        count += 1
print(f"{count} seeds from {tests}", file=sys.stderr)
