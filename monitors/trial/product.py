"""The product checklist: what must be true of the bag before the infusion starts. Pure.

The dose is 10^6 cells per kg of the recorded weight basis: the actual weight, the
predicted body weight (ARDSNet), or the actual weight capped at a maximum. The bag must hold
the dose, its viability must reach the minimum (a setting), it must be within its stability
window (prepared before, expiring after the start), and the dedicated central-line lumen
must be confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from core.records import format_time

CELLS_PER_KG = 1e6
MIN_VIABILITY_PCT = 70.0
"""A common release criterion for MSC products (ISCT); the site's product sheet may differ."""


class WeightBasis(StrEnum):
    ACTUAL = "actual"
    PBW = "pbw"
    CAPPED = "capped"


class Preservation(StrEnum):
    FRESH = "fresh"
    CRYOPRESERVED_DMSO = "cryopreserved_dmso"


def dose_weight(
    basis: WeightBasis, *, actual_kg: float, pbw_kg: float | None, cap_kg: float | None
) -> float:
    """The weight the dose is computed from (ValueError when its input is missing)."""
    if basis is WeightBasis.ACTUAL:
        return actual_kg
    if basis is WeightBasis.PBW:
        if pbw_kg is None:
            raise ValueError("weight basis 'pbw' needs the patient's height and sex")
        return pbw_kg
    if cap_kg is None:
        raise ValueError("weight basis 'capped' needs cap_kg")
    return min(actual_kg, cap_kg)


@dataclass(frozen=True, slots=True, kw_only=True)
class Product:
    """One product checklist entry."""

    weight_basis: WeightBasis
    dose_weight_kg: float
    bag_id: str
    lot_id: str
    cell_count: float
    viability_pct: float
    prepared_at: datetime
    expires_at: datetime
    preservation: Preservation
    washed: bool
    lumen_confirmed: bool

    @property
    def dose_cells(self) -> float:
        return CELLS_PER_KG * self.dose_weight_kg


def problems(
    product: Product | None, at: datetime, *, min_viability_pct: float = MIN_VIABILITY_PCT
) -> list[str]:
    """What keeps the checklist from being complete at `at` (empty: complete)."""
    if product is None:
        return ["no product checklist recorded"]
    out = []
    if product.cell_count < product.dose_cells:
        out.append(
            f"bag holds {product.cell_count:.3g} cells, less than the dose {product.dose_cells:.3g}"
        )
    if product.viability_pct < min_viability_pct:
        out.append(f"viability {product.viability_pct:g} % < {min_viability_pct:g} %")
    if product.prepared_at > at:
        out.append(f"prepared at {format_time(product.prepared_at)}, after the start")
    if product.expires_at <= at:
        out.append(f"expired at {format_time(product.expires_at)}")
    if not product.lumen_confirmed:
        out.append("dedicated central-line lumen not confirmed")
    return out
