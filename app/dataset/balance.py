"""Covariate balance between arms, before and after matching (help for the analyst, not the
analysis).

- Propensity: logistic regression of the arm on the covariates (statsmodels `Logit`;
  missing values imputed with the covariate's mean for the model only; constant covariates
  left out). When the maximum-likelihood fit fails (perfect separation in a small cohort)
  an L1-penalised fit is used and the result says so.
- Matching: 1:1 greedy nearest neighbour on the logit of the propensity score, without
  replacement, within a caliper of 0.2 × the SD of the logit (Austin PC, Pharm Stat 2011);
  treated patients are matched from the highest score down, ties by order, so the same data
  always give the same pairs.
- Standardised mean difference (Austin PC, Stat Med 2009), on the observed values:
  continuous (x̄t − x̄c) / √((s²t + s²c)/2); binary (p̂t − p̂c) / √((p̂t(1−p̂t) + p̂c(1−p̂c))/2).
  |SMD| < 0.1 is the usual mark of balance.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float64]
CALIPER_SD = 0.2
BALANCED = 0.1


@dataclass(frozen=True, slots=True)
class BalanceRow:
    covariate: str
    binary: bool
    mean_treated: float | None
    mean_control: float | None
    smd_before: float | None
    smd_after: float | None


@dataclass(frozen=True, slots=True)
class Balance:
    rows: tuple[BalanceRow, ...]
    n_treated: int
    n_control: int
    pairs: tuple[tuple[int, int], ...]
    caliper: float | None
    model: str  # "logit (maximum likelihood)", "logit (L1-penalised)", or why there is none

    def table(self) -> str:
        """The table as text (what `iaewatch trial balance` prints)."""
        head = f"{'covariate':<28}{'treated':>10}{'control':>10}{'SMD before':>12}{'SMD after':>11}"
        lines = [
            f"treated {self.n_treated}, control {self.n_control}, matched pairs {len(self.pairs)}"
            + (f", caliper {self.caliper:.3f} (logit)" if self.caliper is not None else "")
            + f"; propensity: {self.model}",
            head,
            "-" * len(head),
        ]
        for r in self.rows:
            lines.append(
                f"{r.covariate:<28}{_f(r.mean_treated):>10}{_f(r.mean_control):>10}"
                f"{_f(r.smd_before):>12}{_f(r.smd_after):>11}"
            )
        return "\n".join(lines) + "\n"


def _f(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


def smd(treated: Sequence[float], control: Sequence[float], *, binary: bool) -> float | None:
    """The standardised mean difference of observed values (None without both groups, or
    when both variances are 0)."""
    if len(treated) == 0 or len(control) == 0:
        return None
    t, c = np.asarray(treated, float), np.asarray(control, float)
    mt, mc = float(t.mean()), float(c.mean())
    if binary:
        var = (mt * (1 - mt) + mc * (1 - mc)) / 2
    else:
        vt = float(t.var(ddof=1)) if len(t) > 1 else 0.0
        vc = float(c.var(ddof=1)) if len(c) > 1 else 0.0
        var = (vt + vc) / 2
    return None if var <= 0 else (mt - mc) / math.sqrt(var)


def _design(columns: Mapping[str, Sequence[float | None]]) -> tuple[Vector, list[str]]:
    used: list[str] = []
    cols: list[Vector] = []
    for name, values in columns.items():
        x = np.array([np.nan if v is None else v for v in values], float)
        if np.all(np.isnan(x)):
            continue
        x[np.isnan(x)] = float(np.nanmean(x))
        if float(x.std()) == 0.0:
            continue
        cols.append((x - x.mean()) / x.std())
        used.append(name)
    n = len(next(iter(columns.values()), []))
    return np.column_stack([np.ones(n), *cols]), used


def propensity_logit(
    columns: Mapping[str, Sequence[float | None]], treated: Sequence[bool]
) -> tuple[Vector, str]:
    """The logit of each patient's propensity score, and the model used."""
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import PerfectSeparationError

    x, _ = _design(columns)
    y = np.asarray(treated, float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = sm.Logit(y, x).fit(disp=0, maxiter=200)
            params, model = np.asarray(fit.params, float), "logit (maximum likelihood)"
            if not np.all(np.isfinite(params)) or not fit.mle_retvals.get("converged", True):
                raise ValueError("not converged")
        except (PerfectSeparationError, np.linalg.LinAlgError, ValueError):  # penalise instead
            fit = sm.Logit(y, x).fit_regularized(method="l1", alpha=1.0, disp=0)
            params, model = np.asarray(fit.params, float), "logit (L1-penalised)"
    return x @ params, model


def match(logit: Vector, treated: Sequence[bool], caliper: float) -> list[tuple[int, int]]:
    """Greedy 1:1 nearest-neighbour pairs (treated index, control index) within `caliper`."""
    t_idx = sorted((i for i, t in enumerate(treated) if t), key=lambda i: (-logit[i], i))
    free = [i for i, t in enumerate(treated) if not t]
    pairs: list[tuple[int, int]] = []
    for i in t_idx:
        if not free:
            break
        j = min(free, key=lambda j: (abs(logit[i] - logit[j]), j))
        if abs(logit[i] - logit[j]) <= caliper:
            pairs.append((i, j))
            free.remove(j)
    return pairs


def balance(
    columns: Mapping[str, Sequence[float | None]],
    treated: Sequence[bool],
    binary: Mapping[str, bool],
) -> Balance:
    """SMD of each covariate between arms before and after the propensity match."""
    n_t = sum(1 for t in treated if t)
    n_c = len(treated) - n_t
    pairs: list[tuple[int, int]] = []
    caliper: float | None = None
    if n_t < 2 or n_c < 2:
        model = "none: each arm needs at least 2 patients"
    else:
        logit, model = propensity_logit(columns, treated)
        caliper = CALIPER_SD * float(logit.std(ddof=1))
        pairs = match(logit, treated, caliper)
    matched_t = {i for i, _ in pairs}
    matched_c = {j for _, j in pairs}
    rows = []
    for name, values in columns.items():

        def obs(idx: set[int] | None, arm: bool, v: Sequence[float | None] = values) -> list[float]:
            return [
                float(x)
                for i, x in enumerate(v)
                if x is not None and treated[i] is arm and (idx is None or i in idx)
            ]

        is_bin = binary.get(name, False)
        t_all, c_all = obs(None, True), obs(None, False)
        rows.append(
            BalanceRow(
                covariate=name,
                binary=is_bin,
                mean_treated=float(np.mean(t_all)) if t_all else None,
                mean_control=float(np.mean(c_all)) if c_all else None,
                smd_before=smd(t_all, c_all, binary=is_bin),
                smd_after=smd(obs(matched_t, True), obs(matched_c, False), binary=is_bin)
                if pairs
                else None,
            )
        )
    return Balance(tuple(rows), n_t, n_c, tuple(pairs), caliper, model)


def love_plot(result: Balance) -> bytes:
    """A Love plot (PNG): |SMD| per covariate before (open) and after (filled) matching."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    rows = [r for r in result.rows if r.smd_before is not None]
    fig = Figure(figsize=(6.4, 0.35 * len(rows) + 1.4), dpi=100)
    ax = fig.add_subplot()
    y = list(range(len(rows)))
    ax.scatter(
        [abs(r.smd_before or 0) for r in rows],
        y,
        facecolors="none",
        edgecolors="black",
        label="before matching",
    )
    after = [(abs(r.smd_after), i) for i, r in enumerate(rows) if r.smd_after is not None]
    if after:
        ax.scatter(
            [a for a, _ in after], [i for _, i in after], color="black", label="after matching"
        )
    ax.axvline(BALANCED, color="grey", linestyle="--", linewidth=1)
    ax.set_yticks(y, [r.covariate for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel("absolute standardised mean difference")
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()
