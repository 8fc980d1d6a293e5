"""Win / tie / lose rates per method pair, and the stacked-bar chart of the DiffChat paper."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..storage.votes import Vote

COLORS = {"win": "#4C9F70", "tie": "#B8B8B8", "lose": "#D1605E"}


@dataclass
class PairRates:
    method: str        # the method the rates are for
    other: str         # the method it was compared with
    win: float
    tie: float
    lose: float
    n: int

    def as_row(self) -> list:
        return [f"{self.method} vs {self.other}", f"{self.win:.0%}", f"{self.tie:.0%}", f"{self.lose:.0%}", self.n]


def pair_rates(votes: list[Vote], focus: str | None = None) -> list[PairRates]:
    """Rates per method pair, from the point of view of `focus` when it is in the pair
    (else the alphabetically first method). Sorted by pair."""
    counts: dict[tuple[str, str], Counter] = {}
    for v in votes:
        a, b = v.method_a, v.method_b
        if focus == b:
            a, b = b, a
        c = counts.setdefault((a, b), Counter())
        c["tie" if v.winner is None else "win" if v.winner == a else "lose"] += 1
    rates = []
    for (a, b), c in sorted(counts.items()):
        n = sum(c.values())
        rates.append(PairRates(a, b, c["win"] / n, c["tie"] / n, c["lose"] / n, n))
    return rates


def plot_rates(rates: list[PairRates]):
    """Stacked horizontal bars (win | tie | lose), one per pair, percentages written inside."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 0.7 * max(len(rates), 1) + 1.2), dpi=100)
    if not rates:
        ax.text(0.5, 0.5, "No votes yet", ha="center", va="center", fontsize=13, color="#666")
        ax.axis("off")
        return fig
    labels = [f"{r.method} vs {r.other}  (n={r.n})" for r in rates]
    y = range(len(rates))
    left = [0.0] * len(rates)
    for key, name in (("win", "Win"), ("tie", "Tie"), ("lose", "Lose")):
        values = [getattr(r, key) * 100 for r in rates]
        bars = ax.barh(y, values, left=left, color=COLORS[key], label=name, height=0.6)
        for bar, v in zip(bars, values):
            if v >= 6:
                ax.text(bar.get_x() + bar.get_width() / 2, bar.get_y() + bar.get_height() / 2,
                        f"{v:.0f}%", ha="center", va="center", color="white", fontsize=10)
        left = [l + v for l, v in zip(left, values)]
    ax.set_yticks(list(y), labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("Human preference (%)")
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(ncol=3, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    fig.tight_layout()
    return fig
