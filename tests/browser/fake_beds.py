"""The fake station's scripted ICU (tests/browser/fake_station.py): its users, the codes
and units of the numerics it pushes, and its beds with their devices and patients."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

Json = dict[str, Any]

USERS = {
    "nurse1": ("night-shift", "nurse"),
    "eng1": ("wires-and-frames", "engineer"),
}

SPO2 = "MDC_PULS_OXIM_SAT_O2"
HR = "MDC_ECG_HEART_RATE"
PR = "MDC_PULS_OXIM_PULS_RATE"
ART_MEAN = "MDC_PRESS_BLD_ART_MEAN"
NIBP_MEAN = "MDC_PRESS_BLD_NONINV_MEAN"
TEMP_BLD = "MDC_TEMP_BLD"
TEMP = "MDC_TEMP"
FIO2 = "MDC_VENT_CONC_AWAY_O2_INSP"
PEEP = "MDC_PRESS_AWAY_END_EXP_POS"
RATE = "MDC_FLOW_FLUID_PUMP"
VOLUME = "MDC_VOL_FLUID_DELIV"
UNITS = {
    SPO2: "%",
    HR: "/min",
    PR: "/min",
    ART_MEAN: "mm[Hg]",
    NIBP_MEAN: "mm[Hg]",
    TEMP_BLD: "Cel",
    TEMP: "Cel",
    FIO2: "%",
    PEEP: "cm[H2O]",
    RATE: "mL/h",
    VOLUME: "mL",
}
ARMS = ("UCMSC", "placebo")  # must never appear on the station page


def now() -> datetime:
    return datetime.now(UTC)


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _device(bed: str, device_id: str, kind: str, protocol: str, address: str, ident: Json) -> Json:
    t = now()
    return {
        "bed": bed,
        "device_id": device_id,
        "kind": kind,
        "protocol": protocol,
        "address": address,
        "state": "connected",
        "since": iso(t - timedelta(hours=2)),
        "last_frame": iso(t - timedelta(seconds=1)),
        "frames": 7200,
        "bad_frames": 0,
        "reconnects": 0,
        "last_error": None,
        "identification": ident,
    }


def _devices(bed: str, n: int) -> list[Json]:
    return [
        _device(
            bed,
            f"pump-{n}",
            "pump",
            "modbus",
            f"socket://10.1.{n}.20:502",
            {"vendor": "StudyPump", "serial": f"SP-00{n}"},
        ),
        _device(
            bed,
            f"vent-{n}",
            "ventilator",
            "medibus",
            f"/dev/ttyUSB{n}",
            {"model": "Evita", "sw": "04.20"},
        ),
        _device(
            bed,
            f"mon-{n}",
            "monitor",
            "intellivue",
            f"/dev/ttyS{n}",
            {"model": "MX800", "sw": "M.00.03"},
        ),
    ]


def default_beds() -> dict[str, Json]:
    """Six beds in different states. `latest` entries carry `age_s` (seconds before now)."""
    t = now()

    def bed(n: int, latest: dict[str, float], patient: Json | None, infusion: Json | None) -> Json:
        return {
            "bed": f"ICU-{n}",
            "label": f"ICU-{n}",
            "patient": patient,
            "infusion": infusion,
            "latest": {
                code: {"value": v, "unit": UNITS[code], "age_s": 2.0} for code, v in latest.items()
            },
            "alert": {"count": 0, "highest_priority": None},
            "devices": _devices(f"ICU-{n}", n),
        }

    def infusion(started_min_ago: float, planned: int, infused: float, done: bool) -> Json:
        start = t - timedelta(minutes=started_min_ago)
        return {
            "started_at": iso(start),
            "ended_at": iso(start + timedelta(minutes=planned)) if done else None,
            "planned_min": planned,
            "volume_ml": 100,
            "volume_infused_ml": infused,
            "rate_ml_h": round(100 / planned * 60, 1),
            "window_end": iso(start + timedelta(hours=24)),
        }

    full = {SPO2: 94, HR: 88, ART_MEAN: 72, TEMP_BLD: 37.2, FIO2: 40, PEEP: 10}
    beds = [
        bed(
            1,
            {**full, RATE: 133, VOLUME: 44},
            {"study_id": "S-101", "weight_kg": 72, "arm": ARMS[0]},
            infusion(20, 45, 44, False),
        ),
        bed(
            2,
            {SPO2: 91, HR: 102, NIBP_MEAN: 66, TEMP: 38.1, FIO2: 55, PEEP: 12},
            {"study_id": "S-102", "weight_kg": 80, "arm": ARMS[1]},
            infusion(180, 40, 100, True),
        ),
        bed(
            3,
            {SPO2: 96, PR: 77, ART_MEAN: 81, TEMP_BLD: 36.8, FIO2: 35, PEEP: 8},
            {"study_id": "S-103", "weight_kg": 65, "arm": ARMS[0]},
            None,
        ),
        bed(
            4,
            {**full, SPO2: 89, HR: 118, RATE: 100, VOLUME: 83},
            {"study_id": "S-104", "weight_kg": 90, "arm": ARMS[1]},
            infusion(50, 60, 83, False),
        ),
        bed(5, {SPO2: 98, HR: 70}, None, None),
        bed(
            6,
            {**full, HR: 64, ART_MEAN: 90},
            {"study_id": "S-106", "weight_kg": 58, "arm": ARMS[0]},
            infusion(20 * 60, 30, 100, True),
        ),
    ]
    return {b["bed"]: b for b in beds}
