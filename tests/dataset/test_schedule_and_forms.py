"""The biomarker schedule file (errors name file, line and field) and the day-0 origin of
the free-day counts computed from a form."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.dataset.assemble import compute_free_days
from app.dataset.forms import OutcomesForm
from app.dataset.schedule import DEFAULT, load_schedule
from core.errors import ConfigError

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def test_the_shipped_schedule_has_the_issue_markers_and_timepoints() -> None:
    s = load_schedule(DEFAULT)
    assert [m.name for m in s.markers] == [
        "il6",
        "il8",
        "ang2",
        "srage",
        "spd",
        "vwf",
        "ddimer",
        "fibrinogen",
        "platelets",
    ]
    assert [(t.name, t.hours) for t in s.timepoints][:3] == [
        ("baseline", 0.0),
        ("h6", 6.0),
        ("h24", 24.0),
    ]


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        ("markers: []\n", 1, "timepoints", "is required"),
        (
            "markers:\n  - {name: IL6, label: x, unit: u}\ntimepoints: []\n",
            2,
            "markers[0].name",
            "lower-case",
        ),
        (
            "markers:\n  - {name: il6, label: x, unit: u}\n  - {name: il6, label: y, unit: u}\n"
            "timepoints: []\n",
            3,
            "markers[1].name",
            "listed twice",
        ),
        (
            "markers: []\ntimepoints:\n  - {name: h6, label: 6 h, hours: -6}\n",
            3,
            "timepoints[0].hours",
            "≥ 0",
        ),
        ("markers: []\ntimepoints: []\nextra: 1\n", 3, "extra", "unknown key"),
    ],
)
def test_schedule_errors_name_file_line_and_field(
    tmp_path: Path, text: str, line: int, field: str, words: str
) -> None:
    path = tmp_path / "schedule.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_schedule(path)
    assert (err.value.file, err.value.line, err.value.field) == (str(path), line, field)
    assert words in str(err.value)


def test_a_first_vasopressor_stop_means_one_ran_at_day_0() -> None:
    form = OutcomesForm.model_validate(
        {
            "vital_status_d28": "alive",
            "vasopressors": [{"t": "2026-03-03T08:00:00Z", "event": "vasopressor_stop"}],
        }
    )
    days = compute_free_days(T0, form, vasopressor_at_t0=False)
    assert days == {"ventilator": 0.0, "icu": 0.0, "vasopressor": 26.0}
    unknown = OutcomesForm.model_validate({})
    assert compute_free_days(T0, unknown, vasopressor_at_t0=True)["ventilator"] is None


def test_outcomes_form_refuses_death_without_a_time() -> None:
    with pytest.raises(ValueError, match="needs death_at"):
        OutcomesForm.model_validate({"vital_status_d28": "dead"})
