"""Matplotlib without a screen, and the few steps every gtnbench figure shares."""

from __future__ import annotations

from pathlib import Path


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def style_axis(axis, xlabel: str, ylabel: str, log_x: bool | int = False, legend_size: int = 8) -> None:
    """Labels, a light grid and a legend; `log_x` True (base 10) or a base."""
    if log_x:
        axis.set_xscale("log", base=10 if log_x is True else log_x)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=legend_size)


def save(fig, path: Path, dpi: int = 120) -> None:
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
