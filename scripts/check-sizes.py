#!/usr/bin/env python3
"""Holds the Swift sources to the size limits of docs/ARCHITECTURE.md: no file over 300 lines,
no function (func, init, deinit, subscript, closure-valued property body) over 60 lines.

A function's length runs from its declaration line to the line of its closing brace. Braces in
string literals and comments are skipped. Prints each offender and exits 1 if there is one.
Usage: scripts/check-sizes.py [directory ...]  (default: Sources Tests bench)
"""
import os
import re
import sys

MAX_FILE_LINES = 300
MAX_FUNCTION_LINES = 60
DECLARATION = re.compile(r'^\s*(?:@[\w()":, ]+\s+)*(?:(?:public|private|fileprivate|internal|package|static|class|'
                         r'override|final|mutating|nonisolated|convenience|required|@Sendable|@inlinable)\s+)*'
                         r'(func\s+[^\s(<]+|init[?!]?\s*[(<]|deinit\b|subscript\s*[(<])')
TYPE_DECLARATION = re.compile(r'^\s*(?:\w+\s+)*(?:struct|class|enum|extension|protocol|actor|var|let)\s')


def code_only(line, state):
    """The line without string literals and comments; `state` carries an open /* */ or \"\"\" across lines."""
    out, i = [], 0
    while i < len(line):
        if state['block']:
            end = line.find('*/', i)
            if end < 0:
                return ''.join(out)
            state['block'], i = False, end + 2
        elif state['multiline']:
            end = line.find('"""', i)
            if end < 0:
                return ''.join(out)
            state['multiline'], i = False, end + 3
        elif line.startswith('//', i):
            break
        elif line.startswith('/*', i):
            state['block'], i = True, i + 2
        elif line.startswith('"""', i):
            state['multiline'], i = True, i + 3
        elif line[i] == '/' and ''.join(out).rstrip()[-1:] in ('(', ':', ',', '='):
            i += 1  # a regex literal: /…/
            while i < len(line) and line[i] != '/':
                i += 2 if line[i] == '\\' else 1
            i += 1
        elif line[i] == '"':
            i += 1
            while i < len(line) and line[i] != '"':
                i += 2 if line[i] == '\\' else 1
            i += 1
        else:
            out.append(line[i])
            i += 1
    return ''.join(out)


def check(path):
    problems = []
    with open(path, encoding='utf-8') as source:
        lines = source.read().split('\n')
    if lines and lines[-1] == '':
        lines.pop()
    if len(lines) > MAX_FILE_LINES:
        problems.append(f'{path}: {len(lines)} lines (at most {MAX_FILE_LINES})')
    state = {'block': False, 'multiline': False}
    depth, open_functions = 0, []  # (name, first line, depth at which its body opened)
    pending = None
    for number, raw in enumerate(lines, 1):
        code = code_only(raw, state)
        match = DECLARATION.match(code)
        if match:
            pending = (match.group(1).strip(), number)  # a requirement without a body is replaced
        elif TYPE_DECLARATION.match(code):
            pending = None
        for char in code:
            if char == '{':
                depth += 1
                if pending is not None:
                    open_functions.append((pending[0], pending[1], depth))
                    pending = None
            elif char == '}':
                if open_functions and open_functions[-1][2] == depth:
                    name, first, _ = open_functions.pop()
                    length = number - first + 1
                    if length > MAX_FUNCTION_LINES:
                        problems.append(f'{path}:{first}: {name} is {length} lines (at most {MAX_FUNCTION_LINES})')
                depth -= 1
    return problems


def main():
    roots = sys.argv[1:] or ['Sources', 'Tests', 'bench']
    problems = []
    for root in roots:
        for directory, _, files in os.walk(root):
            for name in sorted(files):
                if name.endswith('.swift'):
                    problems += check(os.path.join(directory, name))
    for problem in problems:
        print(problem)
    if problems:
        print(f'{len(problems)} size limit(s) exceeded')
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
