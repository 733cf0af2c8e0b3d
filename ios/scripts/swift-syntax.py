#!/usr/bin/env python3
"""Parses Swift files with tree-sitter's Swift grammar and fails on any
syntax error (ERROR or MISSING node), printing file:line:column.

This is a parser, not a compiler: it catches unbalanced braces, malformed
declarations and statements, not type errors or wrong API use (no Swift
compiler runs on this machine). Needs the PyPI packages `tree-sitter` and
`tree-sitter-swift` (ios/scripts/check.sh installs them into a venv).

Usage: swift-syntax.py FILE.swift...
"""

import sys

import tree_sitter_swift
from tree_sitter import Language, Parser


def errors(tree):
    found = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            found.append(node)
            continue
        if node.has_error:
            stack.extend(reversed(node.children))
    return found


def main(paths):
    parser = Parser(Language(tree_sitter_swift.language()))
    bad = 0
    for path in paths:
        with open(path, "rb") as f:
            tree = parser.parse(f.read())
        found = errors(tree)
        for node in found[:10]:
            line, column = node.start_point
            kind = f"missing {node.type}" if node.is_missing else "syntax error"
            text = node.text.decode("utf-8", "replace").split("\n")[0][:60]
            print(f"{path}:{line + 1}:{column + 1}: {kind} near {text!r}")
        print(f"  {path}: " + ("parses" if not found else f"{len(found)} syntax errors"))
        bad += len(found)
    return 1 if bad or not paths else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
