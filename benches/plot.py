#!/usr/bin/env python3
"""Plots of a comparison run (benches/compare.py --json FILE): memory and CPU of each tool against N.

    benches/tools/.venv/bin/python benches/plot.py benches/results/compare.json

Writes benches/compare-memory.{svg,png} and benches/compare-cpu.{svg,png}. Needs matplotlib
(benches/tools/setup installs it into benches/tools/.venv).
"""

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).resolve().parent
STYLE = {"stampede": ("tab:green", "o"), "k6": ("tab:purple", "s"), "artillery": ("tab:orange", "^")}


def series(rows, tool, key, scale=1.0):
    pts = [(r["users"], r[key] * scale) for r in rows if r["tool"] == tool and r.get(key) is not None and r["held"]]
    return [p[0] for p in pts], [p[1] for p in pts]


def failed(rows, tool):
    return [r for r in rows if r["tool"] == tool and (r["held"] < r["users"] or r["problems"])]


def panel(ax, rows, key, scale, ylabel, title, log=True):
    for tool, (color, marker) in STYLE.items():
        xs, ys = series(rows, tool, key, scale)
        if not xs:
            continue
        ax.plot(xs, ys, marker=marker, color=color, label=tool)
        for r in failed(rows, tool):
            if r.get(key) is not None and r["held"]:
                ax.annotate(f"held {r['held']:,}/{r['users']:,}", (r["users"], r[key] * scale),
                            textcoords="offset points", xytext=(4, 6), fontsize=7, color=color)
    ax.set_xscale("log")
    if log:
        ax.set_yscale("log")
    ns = sorted({r["users"] for r in rows})
    ax.set_xticks(ns)
    ax.set_xticklabels([f"{n:,}" for n in ns])
    ax.minorticks_off()
    ax.set_xlabel("N (users, rooms of 10, one Socket.IO session each)")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()


def main():
    data = json.loads(Path(sys.argv[1] if len(sys.argv) > 1 else HERE / "results" / "compare.json").read_text())
    rows = data["rows"]
    foot = f"{data['machine']}; {data['date']}; benches/compare.py"

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    panel(axes[0], rows, "peak_rss", 1 / 2**20, "peak RSS of the tool's process tree (MiB)", "Load tool memory")
    panel(axes[1], rows, "kib_per_user", 1, "KiB per held user (peak RSS / users held)", "Memory per virtual user")
    fig.text(0.01, 0.01, foot, fontsize=7, color="gray")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    for ext in ("svg", "png"):
        fig.savefig(HERE / f"compare-memory.{ext}", dpi=110)

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    panel(axes[0], rows, "cpu_percent", 1, "tool CPU in the steady window (% of one core)", "Load tool CPU")
    panel(axes[1], rows, "cpu_ms_per_1k", 1, "CPU-ms per 1,000 messages (sends + receipts)",
          "CPU per 1,000 chat messages")
    fig.text(0.01, 0.01, foot, fontsize=7, color="gray")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    for ext in ("svg", "png"):
        fig.savefig(HERE / f"compare-cpu.{ext}", dpi=110)


if __name__ == "__main__":
    main()
