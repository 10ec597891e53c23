"""Figures the integration tests measure, collected during the run and printed at its end.

Set RAIDEN_PFS_LONG_MEASUREMENTS=1 to run the long measurements (more samples, a bigger burst);
the default run keeps the whole suite to a few minutes.
"""

from __future__ import annotations

import math
import os
import statistics

LONG_MEASUREMENTS = os.environ.get("RAIDEN_PFS_LONG_MEASUREMENTS") == "1"

#: name -> samples in seconds (one sample is shown as a single figure).
_SAMPLES: dict[str, list[float]] = {}


def record(name: str, *samples: float) -> None:
    """Adds samples (seconds) to a named measurement."""
    _SAMPLES.setdefault(name, []).extend(samples)


def percentile(samples: list[float], fraction: float) -> float:
    """The nearest-rank `fraction` quantile of non-empty `samples`."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def summary_lines() -> list[str]:
    """One line per measurement: the figure, or n, p50, p95 and max of the samples."""
    lines = []
    for name, samples in _SAMPLES.items():
        if len(samples) == 1:
            lines.append(f"{name}: {samples[0]:.3f}")
        else:
            lines.append(
                f"{name}: n={len(samples)} p50={statistics.median(samples):.3f} "
                f"p95={percentile(samples, 0.95):.3f} max={max(samples):.3f}"
            )
    return lines
