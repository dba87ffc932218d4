"""The trial dataset (issue 16): day-28 outcomes, matching covariates, biomarkers, control
patients, covariate balance, and the exports an analyst loads (CSV, REDCap, CDISC ODM/SDTM).

Pure parts: `freedays` (ventilator-, ICU- and vasopressor-free days), `apache` and `sofa`
(the published scores), `balance` (propensity, matching, SMD). `assemble` reads the store into
one `PatientData` per patient; the `export_*` modules turn those into deterministic bytes.
"""
