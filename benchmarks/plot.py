"""The PNG of a compare run: deliveries/s and p99 latency per scenario and server, and idle memory.

    PYTHONPATH=. python -m benchmarks.plot [benchmarks/results/latest.json] [docs/performance.png]
"""

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from benchmarks.servers import REPO_ROOT


def plot(results: list[dict], path: Path) -> None:
    """Grouped bars: one group per scenario, one bar per server (and door)."""
    targets = list(dict.fromkeys(r["target"] for r in results))
    busy = list(dict.fromkeys(r["scenario"] for r in results if r["expected"]))
    idle = list(dict.fromkeys(r["scenario"] for r in results if not r["expected"]))
    by_key = {(r["scenario"], r["target"]): r for r in results}
    panels = [
        ("deliveries per second (log scale)", busy, lambda r: r["deliveries_per_s"], True),
        ("p99 latency (ms, log scale)", busy, lambda r: r["p99_ms"], True),
        ("server RSS per connection (KB)", idle + busy, lambda r: r["rss_per_conn_bytes"] / 1024, False),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.2))
    width = 0.8 / max(1, len(targets))
    for ax, (title, scenarios, value, log) in zip(axes, panels, strict=True):
        for i, target in enumerate(targets):
            xs = [k + (i - (len(targets) - 1) / 2) * width for k in range(len(scenarios))]
            ys = [value(by_key[(s, target)]) if (s, target) in by_key else 0 for s in scenarios]
            ax.bar(xs, ys, width, label=target)
        ax.set_xticks(range(len(scenarios)), scenarios)
        ax.set_title(title)
        if log:
            ax.set_yscale("log")
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("GloziChat and ngircd on loopback, one load generator (benchmarks/compare)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str]) -> int:
    """Command line: plot a saved results file."""
    source = Path(argv[0]) if argv else REPO_ROOT / "benchmarks" / "results" / "latest.json"
    target = Path(argv[1]) if len(argv) > 1 else REPO_ROOT / "docs" / "performance.png"
    plot(json.loads(source.read_text())["results"], target)
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
