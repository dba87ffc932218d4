"""SMD before and after a nearest-neighbour propensity match on a synthetic cohort whose
imbalance is known: treated patients are 10 years older (SD 10: SMD 1.0) and more often
male (70 % vs 40 %: SMD 0.3/√((0.21+0.24)/2) = 0.632); a third covariate is noise."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.dataset.balance import BALANCED, balance, love_plot, match, smd


def cohort(seed: int = 16) -> tuple[dict[str, list[float | None]], list[bool]]:
    rng = np.random.default_rng(seed)
    n_t, n_c = 120, 360
    age = np.concatenate([rng.normal(60, 10, n_t), rng.normal(50, 10, n_c)])
    male = np.concatenate([rng.random(n_t) < 0.7, rng.random(n_c) < 0.4]).astype(float)
    noise = rng.normal(0, 1, n_t + n_c)
    treated = [True] * n_t + [False] * n_c
    cols: dict[str, list[float | None]] = {
        "age": [float(x) for x in age],
        "male": [float(x) for x in male],
        "noise": [float(x) for x in noise],
    }
    cols["age"][3] = None  # a missing value is left out of the SMD and imputed for the model
    return cols, treated


def test_smd_formulas() -> None:
    assert smd([1, 2, 3], [1, 2, 3], binary=False) == 0.0
    # means 3 and 2, variances 1 and 1 → 1.0
    assert smd([2, 3, 4], [1, 2, 3], binary=False) == pytest.approx(1.0)
    # 3/4 vs 1/4: 0.5 / √((0.1875 + 0.1875)/2)
    assert smd([1, 1, 1, 0], [1, 0, 0, 0], binary=True) == pytest.approx(0.5 / math.sqrt(0.1875))
    assert smd([], [1.0], binary=False) is None
    assert smd([1, 1], [1, 1], binary=True) is None


def test_known_imbalance_is_found_and_matching_removes_it() -> None:
    cols, treated = cohort()
    b = balance(cols, treated, {"male": True})
    rows = {r.covariate: r for r in b.rows}
    assert b.n_treated == 120 and b.n_control == 360
    assert b.model == "logit (maximum likelihood)"
    assert rows["age"].smd_before == pytest.approx(1.0, abs=0.2)
    assert rows["male"].smd_before == pytest.approx(0.632, abs=0.2)
    assert abs(rows["noise"].smd_before or 0) < 0.25
    # the SMD before is exactly the formula on the observed values
    age_t = [a for a, t in zip(cols["age"], treated, strict=True) if t and a is not None]
    age_c = [a for a, t in zip(cols["age"], treated, strict=True) if not t and a is not None]
    m_t, m_c = np.mean(age_t), np.mean(age_c)
    expect = (m_t - m_c) / math.sqrt((np.var(age_t, ddof=1) + np.var(age_c, ddof=1)) / 2)
    assert rows["age"].smd_before == pytest.approx(expect)
    assert len(b.pairs) >= 80
    assert abs(rows["age"].smd_after or 1) < BALANCED
    assert abs(rows["male"].smd_after or 1) < BALANCED
    # pairs are 1:1 without replacement, treated with control
    assert len({j for _, j in b.pairs}) == len(b.pairs)
    assert all(treated[i] and not treated[j] for i, j in b.pairs)
    assert "SMD before" in b.table() and "age" in b.table()


def test_same_data_same_pairs_and_same_png() -> None:
    cols, treated = cohort()
    a, b = balance(cols, treated, {"male": True}), balance(cols, treated, {"male": True})
    assert a.pairs == b.pairs
    png = love_plot(a)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert png == love_plot(b)


def test_match_respects_the_caliper() -> None:
    logit = np.array([0.0, 1.0, 0.05, 5.0])
    assert match(logit, [True, True, False, False], caliper=0.1) == [(0, 2)]


def test_too_few_patients_gives_no_model_but_still_the_smd() -> None:
    b = balance({"age": [60.0, 50.0, 55.0]}, [True, False, False], {})
    assert b.pairs == () and b.model.startswith("none")
    assert b.rows[0].smd_before is not None and b.rows[0].smd_after is None
