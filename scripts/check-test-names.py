#!/usr/bin/env python3
"""Fails on a Catch2 test name that CTest cannot run as one test: catch_discover_tests passes names through
CMake lists, so a ';' splits one test into two that match nothing (and fail in CI)."""
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parent.parent
bad = []
for path in sorted((root / "tests").glob("*.cpp")):
    text = path.read_text()
    for m in re.finditer(r'TEST_CASE\(\s*((?:"(?:[^"\\]|\\.)*"\s*)+)', text):
        name = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1)))
        if ";" in name:
            line = text.count("\n", 0, m.start()) + 1
            bad.append(f"{path.relative_to(root)}:{line}: test name has ';' (CTest splits it): {name}")
print("\n".join(bad) if bad else "test names: no ';'")
sys.exit(1 if bad else 0)
