#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The doc checks can fail: check_references.py reports each kind of stale reference, and
extract_snippets.py wraps each kind of block and refuses a bad marker.

    docs_tools_test.py --root REPO
"""
import argparse
import pathlib
import subprocess
import sys
import tempfile
import unittest

HERE = pathlib.Path(__file__).resolve().parent
ROOT = None


def run(script, *args):
    return subprocess.run([sys.executable, str(HERE / script), *args], capture_output=True,
                          text=True)


class CheckReferences(unittest.TestCase):
    def check(self, text):
        with tempfile.NamedTemporaryFile("w", suffix=".md", dir=ROOT, delete=False) as f:
            f.write(text)
        try:
            rel = pathlib.Path(f.name).relative_to(ROOT)
            return run("check_references.py", "--root", str(ROOT), str(rel))
        finally:
            pathlib.Path(f.name).unlink()

    def test_a_doc_that_names_what_exists_passes(self):
        r = self.check("`src/core/registry.cpp:3`, [c](CONTRIBUTING.md), `core::wait_for_modules`"
                       ", `socket_type.{hpp,cpp}`, `src/<layer>/<unit>_test.cpp`, "
                       "`<beehive/socket.hpp>`, `cmake --workflow --preset dev`, `SendSync`\n")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_each_kind_of_stale_reference_is_reported(self):
        cases = {
            "`src/core/registry.cpp:99999`": "past the end",
            "[x](docs/missing.md)": "'docs/missing.md' is no file",
            "`core::wait_stopped`": "'wait_stopped'",
            "`route_cache::retired`": "'route_cache'",
            "`interop/go-records.jsonl`": "no file",
            "`bench/context_routing_bench.cpp`": "no file",
            "`socket_type.{hpp,cxx}`": "'socket_type.cxx'",
            "`<beehive/nothing.hpp>`": "no file",
            "`cmake --workflow --preset release-nope`": "workflow preset 'release-nope'",
        }
        for text, expected in cases.items():
            with self.subTest(text=text):
                r = self.check(text + "\n")
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn(expected, r.stderr)
                self.assertIn(":1:", r.stderr)


class ExtractSnippets(unittest.TestCase):
    def extract(self, text):
        with tempfile.TemporaryDirectory() as d:
            root = pathlib.Path(d)
            (root / "doc.md").write_text(text)
            r = run("extract_snippets.py", "--root", d, "--out", str(root / "out"), "doc.md")
            files = {}
            if (root / "out").exists():
                files = {p.name: p.read_text() for p in (root / "out").iterdir()}
            return r, files

    def test_each_mode_is_listed_and_wrapped(self):
        r, files = self.extract(
            "```cpp\nint main() {}\n```\n\n<!-- snippet: no-run -->\n```cpp\nint main() {}\n```\n"
            "<!-- snippet: fragment -->\n```c++\n(void)ctx;\n```\n"
            "<!-- snippet: config-error -->\n```cpp\nint main() { return 1; }\n```\n"
            "<!-- snippet: consumer-cmake -->\n```cmake\nproject(x)\n```\n```yaml\na: 1\n```\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(files["snippets.txt"].splitlines(), [
            "doc_L1.cpp run doc.md:1", "doc_L6.cpp no-run doc.md:6",
            "doc_L10.cpp fragment doc.md:10", "doc_L14.cpp config-error doc.md:14",
            "doc_L18.cmake consumer-cmake doc.md:18"])
        self.assertIn('#line 2 "doc.md"\nint main() {}', files["doc_L1.cpp"])
        fragment = files["doc_L10.cpp"]
        self.assertIn("#include <beehive/beehive.hpp>", fragment)
        self.assertIn("beehive::context& ctx, beehive::core& core", fragment)
        self.assertIn('#line 11 "doc.md"\n(void)ctx;\n}', fragment)
        self.assertEqual(files["doc_L18.cmake"], "project(x)\n")

    def test_bad_markers_fail(self):
        for text, expected in {
            "<!-- snippet: runs -->\n```cpp\nint main() {}\n```\n": "unknown snippet marker",
            "<!-- snippet: no-run -->\ntext\n```cpp\nint main() {}\n```\n": "not followed",
            "<!-- snippet: no-run -->\n": "not followed",
            "<!-- snippet: fragment -->\n```yaml\na: 1\n```\n": "on a 'yaml' block",
            "```cpp\nint main() {}\n": "unterminated",
        }.items():
            with self.subTest(text=text):
                r, _ = self.extract(text)
                self.assertEqual(r.returncode, 1)
                self.assertIn(expected, r.stderr)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True, type=pathlib.Path)
    args, rest = ap.parse_known_args()
    ROOT = args.root.resolve()
    unittest.main(argv=[sys.argv[0], *rest])
