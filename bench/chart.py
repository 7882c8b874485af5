#!/usr/bin/env python3
"""make bench's chart: each scenario's throughput as a share of its ceiling, ours beside the
ceiling (1.0) and beside our own SQL statements run by pgbench (functions/s), as SVG.
bench/run.sh turns it into PNG with rsvg-convert (librsvg2-bin).

usage: chart.py LATEST_JSON OUT_SVG
"""
import json
import sys
from xml.sax.saxutils import escape

WIDTH, ROW, TOP, LEFT, BAR_WIDTH = 900, 46, 70, 190, 600
SCALE_MAX = 1.2  # the axis runs from 0 to 1.2 × the ceiling


def bars(results):
    """(label, ratio of ours, ratio of our SQL or None) per row of the chart."""
    rows = []
    for name, scenario in results["scenarios"].items():
        ceiling = scenario["ceiling_per_s"] or 1
        rows.append((name, scenario["rps"] / ceiling, scenario["functions_per_s"] / ceiling))
    if "seeding" in results:
        rows.append(("seeding by POST", results["seeding"]["ratio"], None))
    if "static" in results:
        rows.append(("/healthz (nginx)", results["static"]["ratio"], None))
    return rows


def svg(results):
    rows = bars(results)
    height = TOP + ROW * len(rows) + 60
    x = lambda ratio: LEFT + BAR_WIDTH * min(ratio, SCALE_MAX) / SCALE_MAX
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
           f'font-family="DejaVu Sans, sans-serif" font-size="13">',
           f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
           f'<text x="{LEFT}" y="24" font-size="16" font-weight="bold">Throughput as a share of the minimal-SQL ceiling</text>',
           f'<text x="{LEFT}" y="44" fill="#555">SEED={results["seed"]}, {results["connections"]} connections, '
           f'{results["duration"]} s each, one run; dark: this service over HTTP, light: our SQL in pgbench</text>']
    for tick in (0, 0.25, 0.5, 0.75, 0.9, 1.0, 1.2):
        out.append(f'<line x1="{x(tick):.1f}" y1="{TOP - 8}" x2="{x(tick):.1f}" y2="{TOP + ROW * len(rows)}" '
                   f'stroke="{"#c00" if tick in (0.9, 1.0) else "#ddd"}" stroke-dasharray="{"4,3" if tick == 0.9 else "none"}"/>')
        out.append(f'<text x="{x(tick):.1f}" y="{TOP + ROW * len(rows) + 18}" text-anchor="middle" fill="#555">{tick:g}×</text>')
    for index, (label, ours, sql) in enumerate(rows):
        y = TOP + index * ROW
        out.append(f'<text x="{LEFT - 10}" y="{y + 20}" text-anchor="end">{escape(label)}</text>')
        out.append(f'<rect x="{LEFT}" y="{y + 4}" width="{x(ours) - LEFT:.1f}" height="18" fill="#2b6cb0"/>')
        out.append(f'<text x="{x(ours) + 6:.1f}" y="{y + 18}">{ours:.2f}</text>')
        if sql is not None:
            out.append(f'<rect x="{LEFT}" y="{y + 24}" width="{x(sql) - LEFT:.1f}" height="10" fill="#90cdf4"/>')
            out.append(f'<text x="{x(sql) + 6:.1f}" y="{y + 34}" font-size="11" fill="#555">{sql:.2f}</text>')
    out.append(f'<text x="{LEFT}" y="{height - 14}" fill="#555">red: the ceiling (1.0×) and the 0.9× target</text>')
    out.append('</svg>')
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    with open(sys.argv[1]) as source:
        results = json.load(source)
    with open(sys.argv[2], "w") as target:
        target.write(svg(results))
