"""The four-valued verdicts: every branch on synthetic effects, slopes and preconditions."""
import pytest

from pde_sgd import verdicts as V


def test_effect_branches():
    ok = [V.at_least("x", 1.0, 0.5)]
    assert V.judge_effect("a < b", -1.0, 0.2, expected="negative", preconditions=ok).outcome == V.HOLDS
    assert V.judge_effect("a < b", +1.0, 0.2, expected="negative", preconditions=ok).outcome == V.DOES_NOT_HOLD
    assert V.judge_effect("a > b", +1.0, 0.2, expected="positive").outcome == V.HOLDS
    assert V.judge_effect("a < b", -0.3, 0.2, expected="negative").outcome == V.UNRESOLVED   # |d| < 2 SE
    assert V.judge_effect("a < b", -0.3, 0.2, expected="negative", z=1.0).outcome == V.HOLDS


def test_failed_precondition_is_regime_not_reached_and_named():
    pre = [V.stability_edge(lambda_max=2.5, eta=0.3), V.trained_to(0.01, 0.06)]
    v = V.judge_effect("larger eta: smaller peak", +5.0, 0.1, expected="negative", preconditions=pre)
    assert v.outcome == V.REGIME_NOT_REACHED          # a strong opposite effect is not a DOES NOT HOLD
    assert v.failed == (pre[0],)
    assert "λ_max / (2/η) = 0.375" in v.evidence and "NOT met" in v.evidence
    assert pre[0].measured == pytest.approx(2.5 * 0.3 / 2)
    assert v.headline().startswith("REGIME NOT REACHED: λ_max / (2/η) = 0.375")


def test_stability_edge_threshold():
    assert V.stability_edge(0.8 * 2 / 0.5 + 1e-9, 0.5).met
    assert not V.stability_edge(0.8 * 2 / 0.5 - 1e-3, 0.5).met
    assert V.stability_edge(1.0, 2.0, fraction=1.0).met and not V.stability_edge(0.99, 2.0, fraction=1.0).met


def test_other_preconditions():
    assert V.overshoot(0.021).met and not V.overshoot(0.00025).met
    assert V.trainable_at(0.995).met and not V.trainable_at(0.69).met
    assert V.inside_grid(3, 8).met and not V.inside_grid(0, 8).met and not V.inside_grid(7, 8).met
    assert not V.at_least("nan", float("nan"), 0.0).met


def test_slope_branches():
    assert V.judge_slope("B_opt ~ eps", 1.02, (0.9, 1.15)).outcome == V.HOLDS
    v = V.judge_slope("B_opt ~ N", 0.7, (0.34, 1.06))          # the review's N slope: 0.5 not excluded
    assert v.outcome == V.UNRESOLVED and "0.5 not excluded" in v.evidence
    assert V.judge_slope("B_opt ~ N", 0.5, (0.4, 0.6)).outcome == V.DOES_NOT_HOLD
    pre = [V.at_least("largest N", 4000, 20000)]
    assert V.judge_slope("B_opt ~ N", 1.0, (0.9, 1.1), preconditions=pre).outcome == V.REGIME_NOT_REACHED
    with pytest.raises(ValueError, match="ci"):
        V.judge_slope("x", 1.0, (2.0, 1.0))


def test_bad_input_and_table():
    with pytest.raises(ValueError, match="expected"):
        V.judge_effect("x", 1.0, 0.1, expected="smaller")
    with pytest.raises(ValueError, match="se"):
        V.judge_effect("x", 1.0, -0.1, expected="negative")
    table = V.summary_table([V.judge_effect("c", -1.0, 0.1, expected="negative")])
    assert "| c | **HOLDS** |" in table
    d = V.judge_effect("c", -1.0, 0.1, expected="negative", preconditions=[V.overshoot(0.02)]).to_dict()
    assert d["outcome"] == "HOLDS" and d["preconditions"][0]["met"] is True


def test_write_verdicts_is_a_markdown_file_with_title_notes_and_table(tmp_path):
    v = V.judge_effect("c", -1.0, 0.1, expected="negative", preconditions=[V.stability_edge(0.5, 1.0)])
    path = V.write_verdicts(tmp_path / "sub" / "v.md", {"c": v}, title="T", notes="measured 3")
    text = path.read_text()
    assert text.startswith("# T\n\nmeasured 3\n\n| claim |") and "**REGIME NOT REACHED**" in text
    assert "0.25" in text                      # the precondition's measured value, λ_max / (2/η) = 0.5 / 2
    assert [p.name for p in path.parent.iterdir()] == ["v.md"]        # no temporary file left
