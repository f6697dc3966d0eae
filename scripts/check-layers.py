#!/usr/bin/env python3
"""Fails when a source file includes a header from a folder above its own (docs/architecture.md).

Each top-level folder is one library; a folder may include its own headers and those of the folders it
depends on, directly or through others. The CMake libraries enforce the same order at link time; this
check also catches an upward #include of a header-only type, which links fine but is still a cycle.
"""
import pathlib
import re
import sys

# Each folder and the folders it uses directly: the same as the target_link_libraries in its CMakeLists.txt.
USES = {
    "config": [],
    "system": ["config"],
    "history": ["config"],
    "probes": ["system"],
    "injectors": ["system"],
    "experiments": ["injectors", "probes"],
    "gameday": ["experiments"],
    "reports": ["gameday", "history"],
    "cli": ["reports"],
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/', re.M)


def reachable(folder):
    seen, todo = set(), [folder]
    while todo:
        for used in USES[todo.pop()]:
            if used not in seen:
                seen.add(used)
                todo.append(used)
    return seen | {folder}


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent)
    problems = []
    for folder in USES:
        allowed = reachable(folder)
        for path in sorted((root / folder).rglob("*")):
            if path.suffix not in (".cpp", ".hpp", ".h", ".c"):
                continue
            for m in INCLUDE.finditer(path.read_text(errors="replace")):
                target = m.group(1)
                if target in USES and target not in allowed:
                    line = path.read_text(errors="replace")[: m.start()].count("\n") + 1
                    problems.append(f"{path.relative_to(root)}:{line}: {folder}/ includes {target}/, which is "
                                    f"above it (it may use: {', '.join(sorted(allowed - {folder})) or 'nothing'})")
    unknown = [p.name for p in root.iterdir() if p.is_dir() and (p / "CMakeLists.txt").exists()
               and p.name not in USES and p.name not in ("ebpf", "tests", "bench", "fuzz", "build")
               and not p.name.startswith("build")]
    for name in unknown:
        problems.append(f"{name}/ is a library folder that scripts/check-layers.py does not know: add it to USES")
    for p in problems:
        print(p)
    print(f"{len(problems)} include(s) against the folder order" if problems else "folder order holds")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
