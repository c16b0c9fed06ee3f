#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Checks that what the docs name exists: every repository path and code name in README.md,
CONTRIBUTING.md and docs/*.md.

    check_references.py --root REPO [DOC.md ...]

Checked, outside ```cpp blocks (those are compiled by the snippet test):
- links `[text](target)` to files of the repository (anchors and web links are not checked);
- `file.cpp:line` and `file.cpp:first-last`, anywhere in the text: the file exists and has that
  many lines (a bare file name is looked up anywhere in the repository);
- repository paths, in backticks or in other code blocks: a word that begins with a top-level
  folder of the repository (`src/core/registry.hpp`, `./scripts/test`), or a file name in
  backticks (`socket_type.{hpp,cpp}`, brace lists expanded; `<layer>` placeholders match any
  name; `<beehive/socket.hpp>` is include/beehive/socket.hpp);
- code names in backticks: every identifier of a span that looks like code (`send_sync`,
  `core::wait_for_modules`, `msg.header.id`, `errc::timed_out`, `BEEHIVE_LOG`) must occur in
  the code (include/, src/, tests/, bench/, examples/, apps/, fuzz/, the CMake files and
  scripts) with its comments stripped, so that a comment cannot keep a stale name alive;
- commit hashes in backticks are in the history (when the tree is a git checkout);
- `--preset NAME` and `--workflow --preset NAME`: the preset exists in CMakePresets.json;
- qualified names (`core::wait_for_modules`) in the `///` comments of the public headers.
Names that are not code (Go's names, YAML keys of Go's config, words of the prose) are listed
in tests/docs/not_code.txt.
"""
import argparse
import json
import os
import pathlib
import re
import subprocess
import sys

CODE_DIRS = ["include", "src", "tests", "bench", "examples", "apps", "fuzz", "cmake", "scripts",
             ".ci"]
CODE_SUFFIXES = {".cpp", ".hpp", ".h", ".cc", ".cmake", ".in", ".py", ".sh", ".txt", ".json",
                 ".jsonl", ""}
SKIP_DIRS = {".git", "build", "node_modules", "__pycache__"}
FILE_EXT = r"(?:cpp|hpp|h|cc|md|cmake|txt|json|jsonl|yaml|yml|py|sh|in)"
FILE_LINE = re.compile(r"(?<![\w/.-])([\w./-]+\." + FILE_EXT + r"):(\d+)(?:-(\d+))?")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
BACKTICK = re.compile(r"`([^`\n]+)`")
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PRESET = re.compile(r"--preset[ =]([\w-]+)")
FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w+-]*)")


def repo_files(root: pathlib.Path):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and
                       not (d.startswith(".") and d != ".ci")]
        for f in filenames:
            out.append(pathlib.Path(dirpath, f).relative_to(root))
    return out


def strip_comments(text: str, suffix: str) -> str:
    """The text without its comments: C++ // and /* */, or # for CMake, Python and shell."""
    if suffix in (".cpp", ".hpp", ".h", ".cc"):
        # Strings are kept (a name may be a string: a type's name, a YAML key).
        pattern = re.compile(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|//[^\n]*|/\*.*?\*/',
                             re.S)
        return pattern.sub(lambda m: m.group(0) if m.group(0)[0] in "\"'" else " ", text)
    if suffix in (".cmake", ".in", ".py", ".sh", ".txt", ""):
        return re.sub(r"(?m)(^|\s)#(?![!]).*$", r"\1", text)
    return text


def code_words(root: pathlib.Path, files):
    words = set()
    for rel in files:
        top = rel.parts[0]
        if rel.parts[:2] == ("tests", "docs") and rel.suffix in (".py", ".txt") and \
                rel.name != "CMakeLists.txt":
            continue  # this checker and its list name every kind of name
        if top not in CODE_DIRS and rel.name not in ("CMakeLists.txt", "CMakePresets.json"):
            continue
        if rel.suffix not in CODE_SUFFIXES:
            continue
        try:
            text = (root / rel).read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        words.update(IDENT.findall(strip_comments(text, rel.suffix)))
    return words


def expand_braces(path: str):
    m = re.search(r"\{([^{}]*)\}", path)
    if not m:
        return [path]
    out = []
    for alt in m.group(1).split(","):
        out.extend(expand_braces(path[:m.start()] + alt + path[m.end():]))
    return out


class Checker:
    def __init__(self, root: pathlib.Path, allow: set):
        self.root = root
        self.files = repo_files(root)
        self.file_set = {str(f) for f in self.files}
        self.dirs = {str(p) for f in self.files for p in f.parents if str(p) != "."}
        self.by_name = {}
        for f in self.files:
            self.by_name.setdefault(f.name, []).append(f)
        self.top = {f.parts[0] for f in self.files if len(f.parts) > 1}
        self.words = code_words(root, self.files)
        self.allow = allow
        presets = json.loads((root / "CMakePresets.json").read_text(encoding="utf-8"))
        self.workflows = {p["name"] for p in presets.get("workflowPresets", [])}
        self.presets = {p["name"] for key in ("configurePresets", "buildPresets", "testPresets",
                                              "workflowPresets") for p in presets.get(key, [])}
        self.errors = []
        self.git_ok = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"],
                                     capture_output=True).returncode == 0

    def commit_exists(self, rev: str) -> bool:
        return subprocess.run(["git", "-C", str(self.root), "cat-file", "-e", rev + "^{commit}"],
                              capture_output=True).returncode == 0

    def error(self, where, what):
        self.errors.append(f"{where}: {what}")

    # -- paths ---------------------------------------------------------------------------------
    def resolve(self, path: str, base: pathlib.Path):
        """The repository files or folders a path names (relative to the repo or to base)."""
        path = path.rstrip("/").removeprefix("./")
        if path.startswith("<") and path.endswith(">"):
            header = path[1:-1]
            if (pathlib.Path("/usr/include") / header).exists():
                return [path]  # a dependency's header (nlohmann/json.hpp)
            path = "include/" + header
        if not path:
            return []
        pattern = re.sub(r"<[^>]+>", "*", path)
        found = []
        for cand in (pattern, str((base / pattern)) if str(base) != "." else None):
            if cand is None:
                continue
            cand = os.path.normpath(cand)
            if "*" in cand:
                rx = re.compile("^" + re.escape(cand).replace(r"\*", "[^/]*") + "$")
                found += [f for f in self.file_set | self.dirs if rx.match(f)]
            elif cand in self.file_set or cand in self.dirs:
                found.append(cand)
        if not found and "/" not in path and "*" not in pattern:
            found = [str(f) for f in self.by_name.get(path, [])]
        return found

    def check_path(self, where, path, base):
        for p in expand_braces(path):
            if not self.resolve(p, base):
                self.error(where, f"'{p}' is no file or folder of the repository")

    def looks_like_repo_path(self, word: str) -> bool:
        w = word.removeprefix("./")
        return "/" in w and w.split("/")[0] in self.top

    def looks_like_file(self, span: str) -> bool:
        return bool(re.fullmatch(r"[<\w./{},-]*\w\." + r"(?:\{[\w,]+\}|" + FILE_EXT + r")>?",
                                 span))

    # -- one doc -------------------------------------------------------------------------------
    def check_doc(self, rel: str):
        path = self.root / rel
        base = pathlib.Path(rel).parent
        lines = path.read_text(encoding="utf-8").splitlines()
        fence, lang = None, ""
        for n, line in enumerate(lines, 1):
            where = f"{rel}:{n}"
            f = FENCE.match(line)
            if f:
                if fence is None:
                    fence, lang = f.group(1), f.group(2).lower()
                elif line.strip().startswith(fence):
                    fence = None
                continue
            if fence is not None:
                if lang in ("cpp", "c++", "cxx", "cc"):
                    continue  # compiled by the snippet test
                self.check_presets(where, line)
                self.check_file_lines(where, line, base)
                for word in re.findall(r"[\w./<>{},-]+", line):
                    if self.looks_like_repo_path(word):
                        self.check_path(where, word.rstrip(".,:;"), pathlib.Path("."))
                continue
            self.check_presets(where, line)
            self.check_file_lines(where, line, base)
            for target in LINK.findall(line):
                if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                    continue
                self.check_path(where, target.split("#")[0], base)
            for span in BACKTICK.findall(line):
                self.check_span(where, span.strip(), base)

    def check_presets(self, where, line):
        for m in PRESET.finditer(line):
            name = m.group(1)
            workflow = line[:m.start()].rstrip().endswith("--workflow")
            if name not in (self.workflows if workflow else self.presets):
                kind = "workflow preset" if workflow else "preset"
                self.error(where, f"{kind} '{name}' is not in CMakePresets.json")

    def check_header_comments(self, rel: str):
        """Qualified names in the doc comments of a public header (`core::wait_for_modules`)."""
        for n, line in enumerate((self.root / rel).read_text(encoding="utf-8").splitlines(), 1):
            comment = line.strip()
            if not comment.startswith("///"):
                continue
            for span in BACKTICK.findall(comment):
                if "::" in span and not span.startswith("std::") and span not in self.allow:
                    self.check_span(f"{rel}:{n}", span.strip(), pathlib.Path("."))

    def check_file_lines(self, where, line, base):
        for file, first, last in FILE_LINE.findall(line):
            found = self.resolve(file, base)
            files = [f for f in found if f in self.file_set]
            if not files:
                self.error(where, f"'{file}' (in {file}:{first}) is no file of the repository")
                continue
            want = int(last or first)
            have = len((self.root / files[0]).read_text(encoding="utf-8").splitlines())
            if want > have:
                self.error(where, f"{file}:{want} is past the end of {files[0]} ({have} lines)")

    def check_span(self, where, span, base):
        if FILE_LINE.search(span):
            return  # checked above
        if span.startswith("/") or span.startswith("$") or " " in span and "(" not in span:
            # an absolute path of the target system, an environment value, or prose/a command
            # line; repository paths inside are still checked
            for word in span.split():
                if self.looks_like_repo_path(word):
                    self.check_path(where, word, pathlib.Path("."))
            return
        if self.looks_like_repo_path(span) or self.looks_like_file(span):
            if span not in self.allow:
                self.check_path(where, span, base)
            return
        if not re.fullmatch(r"[\w:.<>,&*()\[\]~ =!|+-]+", span):
            return  # not code-like (JSON text, quoted output, ...)
        if span in self.allow or span.startswith("std::"):
            return
        if re.fullmatch(r"[0-9a-f]{7,40}", span) and re.search(r"[0-9]", span):
            if self.git_ok and not self.commit_exists(span):
                self.error(where, f"commit {span} is not in the repository's history")
            return
        if span.endswith("*") and re.fullmatch(r"\w+\*", span):
            if not any(w.startswith(span[:-1]) for w in self.words):
                self.error(where, f"no code name begins with '{span[:-1]}'")
            return
        if re.fullmatch(r"_[a-z0-9]+", span):  # a suffix of names (`_new` scenarios)
            if not any(w.endswith(span) and w != span for w in self.words):
                self.error(where, f"no code name ends with '{span}'")
            return
        for ident in IDENT.findall(span):
            if ident in self.words or ident in self.allow or ident.isdigit():
                continue
            self.error(where, f"'{ident}' (in `{span}`) is not in the code; fix the doc, or add "
                       "it to tests/docs/not_code.txt if it is no code name")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", required=True, type=pathlib.Path)
    ap.add_argument("docs", nargs="*")
    args = ap.parse_args()
    root = args.root.resolve()
    allow_file = pathlib.Path(__file__).with_name("not_code.txt")
    allow = set()
    for line in allow_file.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            allow.update(line.split())
    checker = Checker(root, allow)
    docs = args.docs or ["README.md", "CONTRIBUTING.md"] + sorted(
        str(p.relative_to(root)) for p in (root / "docs").glob("*.md"))
    for rel in docs:
        if (root / rel).exists():
            checker.check_doc(rel)
    if not args.docs:
        for header in sorted((root / "include").rglob("*.hpp")):
            checker.check_header_comments(str(header.relative_to(root)))
    for e in checker.errors:
        print(e, file=sys.stderr)
    print(f"{len(checker.errors)} stale reference(s) in {len(docs)} docs", file=sys.stderr)
    return 1 if checker.errors else 0


if __name__ == "__main__":
    sys.exit(main())
