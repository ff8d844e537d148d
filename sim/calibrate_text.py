"""``gameday calibrate``'s plain-text answer: what was fitted, from how many observations with which weights, what
kept the base policy's value and why, and the simulated MTTR beside the observed one."""

from __future__ import annotations

from typing import Any


def lines(result: dict[str, Any]) -> list[str]:
    out = []
    for why, count in sorted(result["ignored"].items()):
        out.append(f"ignored: {count} incident(s), weight 0: {why}")
    for name, f in result["intervals"].items():
        head = f"{name}: n={f['n']} weight {f['weight']:g}{_weights(f['weights'])}"
        if f["fitted"]:
            out.append(
                f"{head} -> fitted: observed median {f['observed_median']:.1f} min, simulated "
                f"{f['simulated_before']:.1f} -> {f['simulated_after']:.1f} (x{f['factor']:.3g} on "
                f"{', '.join(f['fields'])})" + ("" if f["reached"] else "  (not reached)")
            )
        else:
            out.append(f"{head} -> kept the base: {f['why']}")
    for name, d in result["decisions"].items():
        head = f"{name}: n={d['n']} weight {d['weight']:g}"
        out.append(
            f"{head} -> fitted {d['value']:g} (base {d['base']:g})"
            if d["fitted"]
            else f"{head} -> kept the base's {d['base']:g}: {d['why']}"
        )
    unmeasured = [k["field"] for k in result["kept"] if k["why"].startswith("no interval")]
    if unmeasured:
        out.append(f"kept the base (no interval the records measure covers them): {', '.join(unmeasured)}")
    for m in result["mttr"]:
        verdict = "within" if m["within"] else "outside"
        out.append(
            f"{m['severity']} MTTR: observed {m['observed_min']:.0f}-{m['observed_max']:.0f} min "
            f"({m['observed_n']}, {m['weighing']} weighing); simulated median from {m['simulated_from']} "
            f"{m['simulated_base']:.0f} (base) -> "
            f"{m['simulated_calibrated']:.0f} (calibrated), {verdict} the observed range"
        )
    if not any(f["fitted"] for f in [*result["intervals"].values(), *result["decisions"].values()]):
        out.append("too few to fit anything: the policy is the base's (add past incidents or drills with people)")
    out.append(f"wrote {result['policy']} and {result['figure']}")
    return out


def _weights(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    return " (" + "; ".join(f"{r['n']} x {r['weight']:g}: {r['why']}" for r in rows) + ")"
