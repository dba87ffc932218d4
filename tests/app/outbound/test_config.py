"""The `outbound:` section of the ICU file: `iaewatch config check` names file, line, field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.config import load_config, parse_config
from app.outbound.config import Kind
from core.errors import ConfigError
from core.yamlfile import load_marked

BEDS = """beds:
  - bed: ICU-1
    devices:
      - {id: mon, kind: monitor, protocol: intellivue, address: /dev/ttyUSB0}
"""


def _write(tmp_path: Path, outbound: str) -> Path:
    p = tmp_path / "icu.yaml"
    p.write_text("site: {name: Ward 7}\noutbound:\n" + outbound + BEDS)
    return p


def test_three_kinds_with_defaults(tmp_path: Path) -> None:
    cfg = load_config(
        _write(
            tmp_path,
            "  - {name: am, kind: pcd-04, address: '10.0.0.5:2575'}\n"
            "  - {name: ehr, kind: pcd-01, address: 'mirth.local:6661', interval: 30}\n"
            "  - name: pager\n"
            "    kind: webhook\n"
            "    address: https://pager.example/hook\n"
            "    secret_env: PAGER_KEY\n"
            "    retry: {initial: 2, max: 120}\n",
        )
    )
    am, ehr, pager = cfg.outbound
    assert (am.kind, am.host_port, am.facility, am.backlog_alert) == (
        Kind.PCD_04,
        ("10.0.0.5", 2575),
        "Ward 7",
        50,
    )
    assert (ehr.kind, ehr.interval) == (Kind.PCD_01, 30.0)
    assert (pager.retry_initial, pager.retry_max, pager.secret_env) == (2.0, 120.0, "PAGER_KEY")


A = "  - {name: a, kind: pcd-04, address: 'h:1'"
CASES = [
    ("  - {name: am, kind: pcd04, address: 'h:1'}\n", 3, "outbound[0].kind", "pcd-04"),
    ("  - {name: am, kind: pcd-04, address: nowhere}\n", 3, "outbound[0].address", "host:port"),
    ("  - {name: w, kind: webhook, address: 'http://x/'}\n", 3, "outbound[0].secret_env", "HMAC"),
    (A + ", interval: 5}\n", 3, "outbound[0].interval", "pcd-01"),
    (A + "}\n  - {name: a, kind: pcd-01, address: 'h:2'}\n", 4, "outbound[1].name", "twice"),
    (A + ", retry: {initial: 9, max: 2}}\n", 3, "outbound[0].retry.max", "below"),
    (A + ", colour: red}\n", 3, "outbound[0].colour", "unknown"),
]


@pytest.mark.parametrize(("outbound", "line", "field", "words"), CASES)
def test_errors_name_file_line_and_field(
    tmp_path: Path, outbound: str, line: int, field: str, words: str
) -> None:
    path = _write(tmp_path, outbound)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert f"{path}:{line}" in text and field in text and words in text


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 70000),
    st.floats(allow_nan=True),
    st.text(max_size=12),
)
_ENTRY = st.dictionaries(
    st.sampled_from(["name", "kind", "address", "interval", "secret_env", "retry", "backlog_alert",
                     "ack_timeout", "facility", "odd"]),
    st.one_of(_SCALARS, st.sampled_from(["pcd-04", "pcd-01", "webhook", "h:1", "http://x/"]),
              st.dictionaries(st.sampled_from(["initial", "max"]), _SCALARS, max_size=2)),
    max_size=8,
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_SCALARS, st.lists(st.one_of(_ENTRY, _SCALARS), max_size=3)))
def test_any_outbound_section_is_read_or_refused_with_a_config_error(outbound: object) -> None:
    text = yaml.safe_dump({"outbound": outbound})
    data = load_marked(text + BEDS, file="fuzz.yaml")
    try:
        cfg = parse_config(data, file="fuzz.yaml", base_dir=Path("."))
    except ConfigError as exc:
        assert "fuzz.yaml" in str(exc)
    else:
        assert all(ep.name and ep.address for ep in cfg.outbound)
