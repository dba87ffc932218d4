"""The report's language and time zone (`app.report.locale`)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from app.report.locale import local_time, report_locale, tr

T = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def test_local_time_has_utc_beside_it_and_utc_alone_by_default() -> None:
    assert local_time(T) == "2026-03-01 08:00:00 UTC"
    with report_locale("en", ZoneInfo("Asia/Shanghai")):
        assert local_time(T) == "2026-03-01 16:00:00 CST (08:00:00 UTC)"
    assert local_time(T) == "2026-03-01 08:00:00 UTC"  # restored after the block


def test_texts_are_translated_with_their_numbers() -> None:
    assert tr("Blood gases") == "Blood gases"
    with report_locale("zh-CN"):
        assert tr("Blood gases") == "血气"
        assert tr("Alerts and infusion-associated events (5)") == "报警与输注相关事件（5）"
        assert tr("Alerts and infusion-associated events ({0})", 5) == "报警与输注相关事件（5）"
        assert tr("page {0}", 3) == "第 3 页"
        assert tr("Exclusion absent: Malignancy") == "排除标准不存在：恶性肿瘤"
        assert tr("a text nobody translated") == "a text nobody translated"
    with pytest.raises(ValueError, match="report language 'fr'"), report_locale("fr"):
        pass
