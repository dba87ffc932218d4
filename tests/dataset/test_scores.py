"""APACHE II (Knaus 1985, Table 1) and SOFA (Vincent 1996, Table 1) on worked examples: each
item's points are read off the published tables by hand in the comments."""

from __future__ import annotations

from app.dataset.apache import ChronicHealth, aado2, apache_ii
from app.dataset.sofa import sofa

SEPTIC_PNEUMONIA = {
    "temperature_c": 39.2,  # 39–40.9: 3
    "map_mmhg": 65.0,  # 50–69: 2
    "heart_rate": 125.0,  # 110–139: 2
    "resp_rate": 32.0,  # 25–34: 1
    "fio2_pct": 60.0,  # FiO2 ≥ 0.5 → A-aDO2 = 0.6×713 − 40/0.8 − 75 = 302.8: 200–349: 2
    "pao2_mmhg": 75.0,
    "paco2_mmhg": 40.0,
    "ph": 7.30,  # 7.25–7.32: 2
    "sodium_mmol_l": 135.0,  # 130–149: 0
    "potassium_mmol_l": 3.2,  # 3–3.4: 1
    "creatinine_mg_dl": 1.6,  # 1.5–1.9: 2 (no acute renal failure)
    "hematocrit_pct": 32.0,  # 30–45.9: 0
    "wbc_k_ul": 18.0,  # 15–19.9: 1
    "gcs": 11.0,  # 15 − 11: 4
}
# APS 3+2+2+1+2+2+0+1+2+0+1+4 = 20; age 67 (65–74): 5; chronic, non-operative: 5 → 30


def test_apache_ii_worked_example() -> None:
    assert round(aado2(0.6, 40, 75), 1) == 302.8
    s = apache_ii(
        SEPTIC_PNEUMONIA, age_years=67, chronic_health=ChronicHealth.NONOPERATIVE_OR_EMERGENCY
    )
    assert s.complete
    assert s.items["oxygenation"] == 2
    assert s.total - s.items["age"] - s.items["chronic_health"] == 20
    assert s.total == 30


def test_apache_ii_acute_renal_failure_doubles_creatinine_points() -> None:
    v = {**SEPTIC_PNEUMONIA, "acute_renal_failure": 1.0}
    s = apache_ii(v, age_years=67, chronic_health=ChronicHealth.NONOPERATIVE_OR_EMERGENCY)
    assert s.items["creatinine_mg_dl"] == 4
    assert s.total == 32


def test_apache_ii_below_fio2_half_scores_pao2_and_hco3_stands_in_for_ph() -> None:
    v = {**SEPTIC_PNEUMONIA, "fio2_pct": 40.0, "pao2_mmhg": 58.0, "ph": None, "hco3_mmol_l": 20.0}
    s = apache_ii(v, age_years=44, chronic_health=ChronicHealth.NONE)
    assert s.items["oxygenation"] == 3  # PaO2 55–60: 3
    assert s.items["acid_base"] == 2  # HCO3 18–21.9: 2
    assert s.items["age"] == 0  # ≤ 44: 0
    assert s.total == 20 - 2 + 3 - 2 + 2


def test_apache_ii_lists_the_missing_inputs_and_scores_the_rest() -> None:
    v = {k: val for k, val in SEPTIC_PNEUMONIA.items() if k not in ("gcs", "paco2_mmhg")}
    s = apache_ii(v, age_years=None, chronic_health=ChronicHealth.NONE)
    assert not s.complete
    assert s.missing == ("gcs", "paco2_mmhg", "age_years")
    assert "oxygenation" not in s.items
    assert s.total == 20 - 4 - 2


WORST_DAY = {
    "pf_ratio": 150.0,  # < 200 with respiratory support: 3
    "respiratory_support": 1.0,
    "platelets_k_ul": 90.0,  # < 100: 2
    "bilirubin_mg_dl": 2.5,  # 2.0–5.9: 2
    "map_mmhg": 62.0,
    "norepinephrine_ug_kg_min": 0.08,  # norepinephrine ≤ 0.1: 3
    "gcs": 14.0,  # 13–14: 1
    "creatinine_mg_dl": 1.5,  # 1.2–1.9: 1
}


def test_sofa_worked_example() -> None:
    s = sofa(WORST_DAY)
    assert s.items == {
        "respiration": 3,
        "coagulation": 2,
        "liver": 2,
        "cardiovascular": 3,
        "cns": 1,
        "renal": 1,
    }
    assert s.total == 12 and s.complete


def test_sofa_respiration_without_support_stops_at_2_and_urine_can_raise_renal() -> None:
    s = sofa({**WORST_DAY, "respiratory_support": 0.0, "urine_ml_day": 400.0})
    assert s.items["respiration"] == 2
    assert s.items["renal"] == 3  # urine < 500 mL/day: 3
    s = sofa({**WORST_DAY, "pf_ratio": 80.0, "norepinephrine_ug_kg_min": 0.2})
    assert s.items["respiration"] == 4 and s.items["cardiovascular"] == 4


def test_sofa_cardiovascular_bands() -> None:
    base = {k: v for k, v in WORST_DAY.items() if not k.endswith("_ug_kg_min")}
    assert sofa({**base, "map_mmhg": 72.0}).items["cardiovascular"] == 0
    assert sofa(base).items["cardiovascular"] == 1  # MAP < 70
    assert sofa({**base, "dobutamine_ug_kg_min": 2.0}).items["cardiovascular"] == 2
    assert sofa({**base, "dopamine_ug_kg_min": 8.0}).items["cardiovascular"] == 3
    assert sofa({**base, "dopamine_ug_kg_min": 16.0}).items["cardiovascular"] == 4


def test_sofa_missing_organs_are_listed() -> None:
    s = sofa({"pf_ratio": 250.0, "respiratory_support": 1.0})
    assert s.items == {"respiration": 2}
    assert s.missing == ("platelets_k_ul", "bilirubin_mg_dl", "map_mmhg", "gcs", "creatinine_mg_dl")
