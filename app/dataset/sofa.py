"""SOFA (Vincent JL, Moreno R, Takala J, et al. The SOFA (Sepsis-related Organ Failure
Assessment) score to describe organ dysfunction/failure. Intensive Care Med 1996;22:707–710,
Table 1), from the worst values of the 24 h before day 0.

    respiration   PaO2/FiO2 (mmHg) < 400: 1, < 300: 2, < 200 with respiratory support: 3,
                  < 100 with respiratory support: 4 (without support at most 2)
    coagulation   platelets (×10³/µL) < 150: 1, < 100: 2, < 50: 3, < 20: 4
    liver         bilirubin (mg/dL) 1.2–1.9: 1, 2.0–5.9: 2, 6.0–11.9: 3, ≥ 12: 4
    cardiovascular MAP < 70 mmHg: 1; dopamine ≤ 5 or dobutamine (any dose): 2; dopamine > 5
                  or epinephrine ≤ 0.1 or norepinephrine ≤ 0.1: 3; dopamine > 15 or
                  epinephrine > 0.1 or norepinephrine > 0.1: 4 (µg/kg/min, given ≥ 1 h)
    CNS           GCS 13–14: 1, 10–12: 2, 6–9: 3, < 6: 4
    renal         creatinine (mg/dL) 1.2–1.9: 1, 2.0–3.4: 2, 3.5–4.9 or urine < 500 mL/day: 3,
                  ≥ 5.0 or urine < 200 mL/day: 4
"""

from __future__ import annotations

from collections.abc import Mapping

from app.dataset.bands import Bands, Score, points

BILIRUBIN_MG_DL: Bands = ((12, 4), (6, 3), (2, 2), (1.2, 1))
CREATININE_MG_DL: Bands = ((5, 4), (3.5, 3), (2, 2), (1.2, 1))
VASOACTIVE = ("dopamine", "dobutamine", "epinephrine", "norepinephrine")
"""Vasoactive doses read from `values` as `<drug>_ug_kg_min`."""


def respiration(pf: float, supported: bool) -> int:
    if pf < 100 and supported:
        return 4
    if pf < 200 and supported:
        return 3
    return 2 if pf < 300 else 1 if pf < 400 else 0


def coagulation(platelets_k_ul: float) -> int:
    return (
        4
        if platelets_k_ul < 20
        else 3
        if platelets_k_ul < 50
        else (2 if platelets_k_ul < 100 else 1 if platelets_k_ul < 150 else 0)
    )


def cns(gcs: float) -> int:
    return 4 if gcs < 6 else 3 if gcs < 10 else 2 if gcs < 13 else 1 if gcs < 15 else 0


def cardiovascular(map_mmhg: float | None, doses: Mapping[str, float | None]) -> int | None:
    """None when neither a MAP nor any vasoactive dose is known."""
    d = {k: v or 0.0 for k, v in doses.items()}
    if (
        d.get("dopamine", 0) > 15
        or d.get("epinephrine", 0) > 0.1
        or d.get("norepinephrine", 0) > 0.1
    ):
        return 4
    if d.get("dopamine", 0) > 5 or d.get("epinephrine", 0) > 0 or d.get("norepinephrine", 0) > 0:
        return 3
    if d.get("dopamine", 0) > 0 or d.get("dobutamine", 0) > 0:
        return 2
    if map_mmhg is None:
        return None if all(v is None for v in doses.values()) else 0
    return 1 if map_mmhg < 70 else 0


def renal(creatinine_mg_dl: float | None, urine_ml_day: float | None) -> int | None:
    by_creat = None if creatinine_mg_dl is None else points(creatinine_mg_dl, CREATININE_MG_DL, 0)
    by_urine = None
    if urine_ml_day is not None:
        by_urine = 4 if urine_ml_day < 200 else 3 if urine_ml_day < 500 else 0
    known = [p for p in (by_creat, by_urine) if p is not None]
    return max(known) if known else None


def sofa(values: Mapping[str, float | None]) -> Score:
    """SOFA from the worst values (`pf_ratio`, `respiratory_support` (1/0), `platelets_k_ul`,
    `bilirubin_mg_dl`, `map_mmhg`, `<drug>_ug_kg_min`, `gcs`, `creatinine_mg_dl`,
    `urine_ml_day`). An organ without its inputs scores nothing and is listed as missing."""
    g = values.get
    items: dict[str, int] = {}
    missing: list[str] = []

    def put(organ: str, p: int | None, needs: str) -> None:
        if p is None:
            missing.append(needs)
        else:
            items[organ] = p

    pf = g("pf_ratio")
    put(
        "respiration",
        None if pf is None else respiration(pf, bool(g("respiratory_support"))),
        "pf_ratio",
    )
    plt = g("platelets_k_ul")
    put("coagulation", None if plt is None else coagulation(plt), "platelets_k_ul")
    bili = g("bilirubin_mg_dl")
    put("liver", None if bili is None else points(bili, BILIRUBIN_MG_DL, 0), "bilirubin_mg_dl")
    doses = {drug: g(f"{drug}_ug_kg_min") for drug in VASOACTIVE}
    put("cardiovascular", cardiovascular(g("map_mmhg"), doses), "map_mmhg")
    gcs = g("gcs")
    put("cns", None if gcs is None else cns(gcs), "gcs")
    put("renal", renal(g("creatinine_mg_dl"), g("urine_ml_day")), "creatinine_mg_dl")
    return Score(sum(items.values()), items, tuple(missing))
