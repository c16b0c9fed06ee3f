#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Extracts every C++ block of the docs into one program each (the docs' snippets are tests).

    extract_snippets.py --root REPO --out DIR [DOC.md ...]

Default docs: README.md, CONTRIBUTING.md and docs/*.md. A ```cpp block (also c++, cxx, cc) becomes
DIR/<doc>_L<line>.cpp with a `#line` directive, so that a compiler error names the doc and its
line. DIR/snippets.txt lists one `<name> <mode> <doc>:<line>` per block. A file is rewritten only
when its text changed, so an unchanged snippet is not rebuilt.

The line right before a block's opening fence may carry a marker (CONTRIBUTING.md lists them):
  (none)                          a complete program: compiled, linked and run; it must exit 0
  <!-- snippet: no-run -->        a complete program: compiled and linked, not run (it waits for
                                  a signal, needs a config file, ...)
  <!-- snippet: config-error -->  a complete program that reads its socket config: run with
                                  $SOCKET_MODULE_CONFIG naming a missing file, it must exit 1
                                  (the error reported), neither crash nor hang
  <!-- snippet: fragment -->      statements: wrapped in a function body that has `ctx` (a
                                  beehive::context&) and `core` (a beehive::core&) in scope, with
                                  <beehive/beehive.hpp> and <beehive/socket.hpp> included;
                                  compiled and linked, not run
  <!-- snippet: consumer-cmake --> (a ```cmake block) the consumer CMakeLists.txt that the
                                  clean-install test builds (tests/package/clean_install.cmake)
A marker that names no known mode, or that no fenced block follows, is an error.
"""
import argparse
import pathlib
import re
import sys

CPP_LANGS = {"cpp", "c++", "cxx", "cc"}
MODES = {"run", "no-run", "config-error", "fragment", "consumer-cmake"}
MARKER = re.compile(r"^\s*<!--\s*snippet:\s*([\w-]+)\s*-->\s*$")
FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w+-]*)")

FRAGMENT_HEAD = """\
// Generated from {src} by tests/docs/extract_snippets.py (fragment): do not edit.
#include <beehive/beehive.hpp>
#include <beehive/socket.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <utility>

// What every fragment has in scope: a context and a core over it.
[[maybe_unused]] static void beehive_snippet(beehive::context& ctx, beehive::core& core) {{
  (void)ctx;
  (void)core;
#line {line} "{doc}"
"""
FRAGMENT_TAIL = """\
}

int main() {}  // a fragment is compiled and linked, never run
"""
PROGRAM_HEAD = """\
// Generated from {src} by tests/docs/extract_snippets.py: do not edit.
#line {line} "{doc}"
"""


class DocError(Exception):
    pass


def blocks(path: pathlib.Path, rel: str):
    """Yields (lang, mode, first_body_line, body) for every fenced block of a markdown file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    pending = None  # (mode, line) of a marker waiting for its block
    while i < len(lines):
        m = MARKER.match(lines[i])
        if m:
            if pending:
                raise DocError(f"{rel}:{pending[1]}: marker not followed by a fenced block")
            if m.group(1) not in MODES:
                raise DocError(f"{rel}:{i + 1}: unknown snippet marker '{m.group(1)}' "
                               f"(known: {', '.join(sorted(MODES))})")
            pending = (m.group(1), i + 1)
            i += 1
            continue
        f = FENCE.match(lines[i])
        if f:
            fence, lang = f.group(2), f.group(3).lower()
            start = i + 1
            j = start
            while j < len(lines) and not lines[j].lstrip().startswith(fence):
                j += 1
            if j == len(lines):
                raise DocError(f"{rel}:{i + 1}: unterminated code block")
            mode = None
            if pending:
                if pending[1] != i:
                    raise DocError(f"{rel}:{pending[1]}: a marker must be the line right before "
                                   "its block's opening fence")
                mode = pending[0]
                pending = None
            yield lang, mode, start + 1, "\n".join(lines[start:j]) + "\n", i + 1
            i = j + 1
            continue
        if pending and lines[i].strip():
            raise DocError(f"{rel}:{pending[1]}: marker not followed by a fenced block")
        i += 1
    if pending:
        raise DocError(f"{rel}:{pending[1]}: marker not followed by a fenced block")


def write_if_changed(path: pathlib.Path, text: str):
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", required=True, type=pathlib.Path)
    ap.add_argument("--out", required=True, type=pathlib.Path)
    ap.add_argument("docs", nargs="*")
    args = ap.parse_args()
    root = args.root.resolve()
    docs = args.docs or ["README.md", "CONTRIBUTING.md"] + sorted(
        str(p.relative_to(root)) for p in (root / "docs").glob("*.md"))
    args.out.mkdir(parents=True, exist_ok=True)
    manifest, written, errors = [], set(), []
    for rel in docs:
        path = root / rel
        if not path.exists():
            continue
        stem = re.sub(r"[^A-Za-z0-9]+", "_", rel.removesuffix(".md"))
        try:
            for lang, mode, line, body, fence_line in blocks(path, rel):
                src = f"{rel}:{fence_line}"
                if lang == "cmake" and mode == "consumer-cmake":
                    name = f"{stem}_L{fence_line}.cmake"
                    write_if_changed(args.out / name, body)
                    manifest.append(f"{name} consumer-cmake {src}")
                    written.add(name)
                    continue
                if lang not in CPP_LANGS:
                    if mode is not None:
                        raise DocError(f"{src}: marker '{mode}' on a '{lang}' block")
                    continue
                mode = mode or "run"
                if mode == "consumer-cmake":
                    raise DocError(f"{src}: 'consumer-cmake' marks a ```cmake block")
                name = f"{stem}_L{fence_line}.cpp"
                if mode == "fragment":
                    text = (FRAGMENT_HEAD.format(src=src, line=line, doc=rel) + body +
                            FRAGMENT_TAIL)
                else:
                    text = PROGRAM_HEAD.format(src=src, line=line, doc=rel) + body
                write_if_changed(args.out / name, text)
                manifest.append(f"{name} {mode} {src}")
                written.add(name)
        except DocError as e:
            errors.append(str(e))
    for stale in args.out.iterdir():  # snippets removed from the docs
        if stale.suffix in (".cpp", ".cmake") and stale.name not in written:
            stale.unlink()
    write_if_changed(args.out / "snippets.txt", "\n".join(manifest) + "\n")
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
