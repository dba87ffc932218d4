"""The forms a coordinator enters per patient (saved as versions in `dataset_records`).

Requests forbid unknown fields (`app.schemas.In`), so a typo is refused with its reason.
Times are timezone-aware and kept in UTC. Every field here is described in docs/dataset.md.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from app.dataset.apache import ChronicHealth
from app.schemas import In, UtcTime

Pct = Annotated[float, Field(ge=0, le=100)]


class VentilationEvent(In):
    """Invasive ventilation stopped (`extubation`) or started again (`reintubation`)."""

    t: UtcTime
    event: Literal["extubation", "reintubation"]


class IcuEvent(In):
    t: UtcTime
    event: Literal["icu_discharge", "icu_readmission"]


class VasopressorEvent(In):
    t: UtcTime
    event: Literal["vasopressor_start", "vasopressor_stop"]


class OxygenationEntry(In):
    """A blood gas entered for a protocol day, instead of the stored gases."""

    day: Literal[1, 2, 3, 7]
    pao2_mmhg: Annotated[float, Field(gt=0, le=800)]
    fio2_pct: Annotated[float, Field(ge=21, le=100)]
    mean_paw_cmh2o: Annotated[float, Field(gt=0, le=80)] | None = None
    t: UtcTime | None = None


class OutcomesForm(In):
    """Day-28 outcomes. Day 0 is enrolment; the patient is on the ventilator and in the ICU
    then, and on vasopressors when the covariates say so."""

    vital_status_d28: Literal["alive", "dead", "unknown"] = "unknown"
    death_at: UtcTime | None = None
    death_cause: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    hospital_discharge_at: UtcTime | None = None
    ventilation: list[VentilationEvent] = Field(default_factory=list)
    icu: list[IcuEvent] = Field(default_factory=list)
    vasopressors: list[VasopressorEvent] = Field(default_factory=list)
    oxygenation: list[OxygenationEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _death(self) -> OutcomesForm:
        if self.vital_status_d28 == "dead" and self.death_at is None:
            raise ValueError("vital_status_d28 'dead' needs death_at")
        if self.death_at is not None and self.vital_status_d28 == "unknown":
            raise ValueError("a death_at needs vital_status_d28 ('dead', or 'alive' after day 28)")
        if len({o.day for o in self.oxygenation}) != len(self.oxygenation):
            raise ValueError("one oxygenation entry per day")
        return self


class WorstValues(In):
    """The worst value of each variable in the 24 h before day 0 (APACHE II and SOFA);
    a value given here wins over the stored one."""

    temperature_c: Annotated[float, Field(ge=20, le=45)] | None = None
    map_mmhg: Annotated[float, Field(gt=0, le=250)] | None = None
    heart_rate: Annotated[float, Field(ge=0, le=300)] | None = None
    resp_rate: Annotated[float, Field(ge=0, le=100)] | None = None
    fio2_pct: Annotated[float, Field(ge=21, le=100)] | None = None
    pao2_mmhg: Annotated[float, Field(gt=0, le=800)] | None = None
    paco2_mmhg: Annotated[float, Field(gt=0, le=250)] | None = None
    ph: Annotated[float, Field(ge=6.5, le=8.0)] | None = None
    hco3_mmol_l: Annotated[float, Field(gt=0, le=80)] | None = None
    sodium_mmol_l: Annotated[float, Field(gt=80, le=220)] | None = None
    potassium_mmol_l: Annotated[float, Field(gt=0, le=12)] | None = None
    creatinine_mg_dl: Annotated[float, Field(gt=0, le=30)] | None = None
    acute_renal_failure: bool | None = None
    hematocrit_pct: Pct | None = None
    wbc_k_ul: Annotated[float, Field(ge=0, le=500)] | None = None
    gcs: Annotated[int, Field(ge=3, le=15)] | None = None
    platelets_k_ul: Annotated[float, Field(ge=0, le=2000)] | None = None
    bilirubin_mg_dl: Annotated[float, Field(ge=0, le=60)] | None = None
    urine_ml_day: Annotated[float, Field(ge=0, le=20000)] | None = None
    dopamine_ug_kg_min: Annotated[float, Field(ge=0, le=100)] | None = None
    dobutamine_ug_kg_min: Annotated[float, Field(ge=0, le=100)] | None = None
    epinephrine_ug_kg_min: Annotated[float, Field(ge=0, le=10)] | None = None
    norepinephrine_ug_kg_min: Annotated[float, Field(ge=0, le=10)] | None = None


class CovariatesForm(In):
    """Baseline covariates for propensity matching."""

    sex: Literal["M", "F"] | None = None
    height_cm: Annotated[float, Field(ge=100, le=250)] | None = None
    aetiology_site: Literal["pulmonary", "extrapulmonary"] | None = None
    aetiology: (
        Literal[
            "pneumonia",
            "aspiration",
            "inhalation",
            "pulmonary_contusion",
            "sepsis",
            "pancreatitis",
            "trauma",
            "transfusion",
            "other",
        ]
        | None
    ) = None
    lactate_mmol_l: Annotated[float, Field(ge=0, le=40)] | None = None
    vasopressor_use: bool | None = None
    pf_at_enrolment: Annotated[float, Field(gt=0, le=700)] | None = None
    peep_at_enrolment: Annotated[float, Field(ge=0, le=40)] | None = None
    driving_pressure_at_enrolment: Annotated[float, Field(gt=0, le=60)] | None = None
    prone: bool | None = None
    neuromuscular_blockade: bool | None = None
    ecmo: bool | None = None
    steroids: bool | None = None
    fluid_strategy: Literal["conservative", "liberal", "usual_care"] | None = None
    chronic_health: ChronicHealth | None = None
    worst_24h: WorstValues = WorstValues()


class BiomarkerSample(In):
    """One biomarker result with its sampling time (marker and timepoint from the schedule)."""

    marker: Annotated[str, Field(min_length=1, max_length=32)]
    timepoint: Annotated[str, Field(min_length=1, max_length=32)]
    t: UtcTime
    value: Annotated[float, Field(ge=0)]
    below_lod: bool = False


class BiomarkersForm(In):
    samples: list[BiomarkerSample] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> BiomarkersForm:
        keys = [(s.marker, s.timepoint) for s in self.samples]
        if len(set(keys)) != len(keys):
            raise ValueError("one sample per marker and timepoint")
        return self


FORM_MODELS: dict[str, type[In]] = {
    "outcomes": OutcomesForm,
    "covariates": CovariatesForm,
    "biomarkers": BiomarkersForm,
}
