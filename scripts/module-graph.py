#!/usr/bin/env python3
"""The module graph: each target of Package.swift with the modules its sources import, and a
check that every import of a first-party or C module is a declared dependency.

Usage: scripts/module-graph.py [--swift SWIFT]   (prints the graph; exits 1 on an undeclared import)
"""
import json
import os
import re
import subprocess
import sys

SYSTEM = {'Foundation', 'FoundationEssentials', 'FoundationNetworking', 'Glibc', 'Dispatch', 'Synchronization',
          'XCTest', 'Testing', '_Concurrency', 'Darwin', 'Musl'}
IMPORT = re.compile(r'^\s*(?:@\w+\s+)*import\s+(?:(?:struct|class|enum|func|protocol)\s+)?([A-Za-z_][A-Za-z0-9_]*)', re.M)


def main():
    swift = sys.argv[sys.argv.index('--swift') + 1] if '--swift' in sys.argv else os.environ.get('SWIFT', 'swift')
    package = json.loads(subprocess.run([swift, 'package', 'dump-package'], check=True, capture_output=True, text=True).stdout)
    problems = []
    for target in sorted(package['targets'], key=lambda t: t['name']):
        if target['type'] == 'system':
            continue
        path = target.get('path') or ('Tests/' if target['type'] == 'test' else 'Sources/') + target['name']
        declared = set()
        for dependency in target.get('dependencies', []):
            for kind in ('byName', 'target', 'product'):
                if kind in dependency:
                    declared.add(dependency[kind][0])
        imported = set()
        for directory, _, files in os.walk(path):
            for name in files:
                if name.endswith('.swift'):
                    with open(os.path.join(directory, name), encoding='utf-8') as source:
                        imported.update(IMPORT.findall(source.read()))
        imported -= SYSTEM | {target['name']}
        print(f"{target['name']:<22} imports {', '.join(sorted(imported)) or '-'}")
        for module in sorted(imported - declared):
            problems.append(f"{target['name']} imports {module} without declaring it in Package.swift")
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
