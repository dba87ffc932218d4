"""Real recordings → the recorded stream that `iaewatch replay` reads (DESIGN.md "Recorded
streams"): CLIF parquet tables (`importers.clif`) and WFDB numerics records
(`importers.wfdb`). Codes and units come from `core.params` / `core.units`; `importers.common`
holds what both share (errors naming file, row and field; unit spellings; the synthetic
infusion). Imports `core` only.
"""
