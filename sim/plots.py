"""Figures for the README and reports (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path


def compare_plot(result: dict, path: Path) -> Path:
    """Paired MTTR/MTTA/MTTD differences (B - A) with 95% CIs, overall and by severity."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [("all: " + m.upper(), result[m]) for m in ("mttd", "mtta", "mttr")]
    rows += [(f"{sev}: MTTR", block["mttr"]) for sev, block in result["by_severity"].items()
             if block["mttr"]["difference"] is not None]
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(rows) + 1.4))
    for y, (_label, r) in enumerate(reversed(rows)):
        lo, hi = r["ci95"]
        color = "tab:green" if r["distinguishable"] and r["difference"] < 0 else (
            "tab:red" if r["distinguishable"] else "tab:gray")
        ax.errorbar(r["difference"], y, xerr=[[r["difference"] - lo], [hi - r["difference"]]], fmt="o",
                    color=color, capsize=4)
        ax.text(hi, y, f"  {r['difference']:+.1f} min", va="center", fontsize=8)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(len(rows)), [label for label, _ in reversed(rows)])
    ax.set_xlabel(f"{result['b']} − {result['a']} (minutes, 95% CI, common random numbers)")
    ax.set_title(f"What if: {result['b']} vs {result['a']} ({result['incidents']:,} incidents, seed {result['seed']})",
                 fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
