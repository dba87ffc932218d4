"""IntelliVue numerics → values in our vocabulary (pure; no I/O).

A value is used only when its FLOAT is not special and its measurement state has none of
invalid, questionable or unavailable (IVH). Questionable, test and demo data keep their number
but are marked questionable, so rules ignore them; special values and invalid or unavailable
states become `None` with status unavailable. Units are converted to the parameter's canonical
unit (e.g. an EtCO2 in kPa becomes mm[Hg]).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import UnitError
from core.model import ValueStatus
from core.params import parameter
from core.units import to_canonical
from drivers.intellivue import nomenclature as nom
from drivers.intellivue.values import NumericValue


@dataclass(frozen=True, slots=True)
class Reading:
    """One numeric in our vocabulary, ready to become an `Observation`."""

    code: str
    value: float | None
    unit: str
    status: ValueStatus
    physio_id: int
    note: str = ""


def reading(nv: NumericValue) -> Reading | None:
    """The vocabulary reading of one NuObsValue, or None when its physio id is not ours."""
    code = nom.PHYSIO_CODES.get(nv.physio_id)
    param = parameter(code) if code else None
    if code is None or param is None:
        return None
    unit = param.unit

    def unavailable(note: str) -> Reading:
        return Reading(code, None, unit, ValueStatus.UNAVAILABLE, nv.physio_id, note)

    if nv.special is not None:
        return unavailable(nv.special)
    if nv.invalid:
        return unavailable(f"state 0x{nv.state:04X}")
    raw = nv.value
    if raw is None:  # pragma: no cover - special values are handled above
        return unavailable("no value")
    device_unit = nom.UNITS.get(nv.unit_code)
    if device_unit is None:
        return unavailable(f"unknown unit code 0x{nv.unit_code:04X}")
    try:
        value = to_canonical(code, raw, device_unit)
    except UnitError as exc:
        return unavailable(str(exc))
    status = ValueStatus.QUESTIONABLE if nv.questionable else ValueStatus.VALID
    note = f"state 0x{nv.state:04X}" if nv.questionable else ""
    if not param.plausible(value):
        status, note = ValueStatus.QUESTIONABLE, "implausible"
    return Reading(code, value, unit, status, nv.physio_id, note)


def readings(values: list[NumericValue]) -> list[Reading]:
    """Readings for every NuObsValue we have a vocabulary code for, in poll order."""
    return [r for r in (reading(v) for v in values) if r is not None]
