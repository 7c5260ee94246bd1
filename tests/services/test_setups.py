"""Set-ups: the picker's text round trip, previews, correlations with the repair warning,
validation messages, and saving per workbook."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from db.entities import WorkbookRecord
from services import setups as su


def test_picker_text_round_trips_lists_truncation_and_shift():
    text = su.distribution_text("discrete", ["1, 2, 3", "0.2, 0.3, 0.5"], ("", "2"), "1")
    assert text == "discrete({1, 2, 3}, {0.2, 0.3, 0.5}, truncate=(None, 2), shift=1)"
    assert su.picker_state(text) == ("discrete", ["1, 2, 3", "0.2, 0.3, 0.5"], ("", "2"), "1")
    assert su.distribution_text("normal", ["100", "10"]) == "normal(100, 10)"


def test_preview_percentiles_follow_truncation_and_shift():
    p = su.preview("normal(100, 10)")
    assert p.percentiles[50] == pytest.approx(100) and p.sd == pytest.approx(10)
    assert p.percentiles[95] == pytest.approx(116.4485, abs=1e-3)
    shifted = su.preview("normal(100, 10, truncate=(100, None), shift=5)")
    assert shifted.percentiles[1] >= 105 and shifted.cdf[0] == 0
    assert not p.discrete and p.density.max() == pytest.approx(0.0399, abs=1e-3)
    rows = su.percentile_rows(su.preview("normal(10000, 1000)"))
    assert {"statistic": "P50", "value": "10,000"} in rows
    assert su.preview_figure(p).data


def test_discrete_preview_shows_point_masses():
    p = su.preview("discrete({1,2,3},{0.2,0.3,0.5}, truncate=(2, None))")
    assert p.discrete and p.x.tolist() == [2, 3]
    assert p.density.tolist() == pytest.approx([0.375, 0.625])


def test_impossible_parameters_name_the_cell():
    with pytest.raises(ValueError, match="Sheet1!B2.*sd"):
        su.preview("normal(100, -1)", "Sheet1!B2")


def test_correlation_matrix_round_trip_and_repair_warning():
    labels = ["a", "b", "c"]
    matrix = su.correlation_matrix(labels, [("a", "b", 0.5), ("gone", "a", 0.9)])
    assert matrix[0][1] == matrix[1][0] == 0.5 and matrix[0][2] == 0
    pairs, warning = su.correlation_pairs(labels, matrix)
    assert pairs == [("a", "b", 0.5)] and warning is None
    bad = [[1, 0.9, 0.9], [0, 1, -0.9], [0, 0, 1]]  # only the upper triangle counts
    pairs, warning = su.correlation_pairs(labels, bad)
    assert ("b", "c", -0.9) in pairs
    assert "not positive semi-definite" in warning and "Used:" in warning
    with pytest.raises(ValueError, match="must lie in"):
        su.correlation_pairs(labels, [[1, 2, 0], [0, 1, 0], [0, 0, 1]])


def test_validation_lists_every_problem():
    setup = su.Setup(inputs={"Sheet1!B2": "normal(1, -1)"}, outputs=[],
                     correlations=[("Sheet1!B2", "Sheet1!Z9", 0.5)], iterations=0)
    with pytest.raises(su.SetupError) as caught:
        su.validate(setup)
    text = " | ".join(caught.value.problems)
    assert "Sheet1!B2" in text and "output" in text and "Iterations" in text
    assert "Sheet1!Z9, which is not an input" in text
    ok = su.Setup(inputs={"Sheet1!B2": "normal(1, 1)"}, correlations=[
        ("Sheet1!B2", "Sheet1!C3", 0.5)])
    su.validate(ok, ["Sheet1!C3"], declared_outputs=True)


def test_run_spec_has_the_db_jobs_format():
    setup = su.Setup(inputs={"Sheet1!B2": "normal(100, 10)"}, outputs=["Sheet1!B9"],
                     correlations=[("Sheet1!B2", "Sheet1!B3", 0.8)])
    assert setup.to_run_spec() == {"inputs": {"Sheet1!B2": "normal(100, 10)"},
                                   "outputs": ["Sheet1!B9"],
                                   "settings": {"correlations": [["Sheet1!B2", "Sheet1!B3",
                                                                  0.8]]}}


def test_device_choices_offer_the_gpu_only_when_usable(monkeypatch):
    monkeypatch.setattr(su, "_gpu_usable", lambda: False)
    assert su.device_choices() == ["cpu"]
    monkeypatch.setattr(su, "_gpu_usable", lambda: True)
    assert su.device_choices() == ["cpu", "cuda"]
    assert su.device_choices("cuda") == ["cpu", "cuda"]
    assert su.device_choices("cpu") == ["cpu"]  # DEVICE=cpu keeps runs off a usable GPU


def test_setups_are_saved_next_to_the_workbook(tmp_path):
    stored = tmp_path / "abc.xlsx"
    stored.write_bytes(b"x")
    record = WorkbookRecord(1, 1, "m.xlsx", "abc", 1, datetime.now(UTC), str(stored), None)
    assert su.saved_setups(record) == {}
    setup = su.Setup(name=" base ", inputs={"Sheet1!B2": "pert(1, 2, 5)"}, outputs=["S!A1"],
                     correlations=[("Sheet1!B2", "Sheet1!B1", -0.3)], iterations=5000, seed=9,
                     sampling="lhs")
    su.save_setup(record, setup)
    assert (tmp_path / "abc.setups.json").is_file()
    assert su.saved_setups(record) == {"base": setup}
    su.save_setup(record, su.Setup(name="other"))
    su.delete_setup(record, "base")
    assert list(su.saved_setups(record)) == ["other"]
    with pytest.raises(su.SetupError, match="name"):
        su.save_setup(record, su.Setup(name="  "))
