"""search.best.strength: the colour strength an export colorizes with is the strongest that costs no
validation accuracy."""

from __future__ import annotations

import numpy as np

from search.best.strength import STRENGTHS, fit_colour_strength


def _photos(seed: int = 0):
    """Smooth colourful 'photos': L and ab fields in Lab units."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:32, 0:32] / 32.0
    lightness = np.stack([40 + 30 * np.sin(3 * x + k) for k in range(6)])[..., None].astype(np.float32)
    ab = np.stack([np.stack([40 * np.cos(2 * y + k), 35 * np.sin(2 * x - k)], -1) for k in range(6)]).astype(np.float32)
    return lightness, ab + rng.normal(0, 2, ab.shape).astype(np.float32)


def test_a_model_whose_colours_are_too_weak_gets_the_strongest_that_is_no_less_accurate():
    lightness, ab = _photos()
    result = fit_colour_strength(lightness, ab, ab / 1.2)  # a model that hedges: every colour 1/1.2 as strong
    chosen, delta_e = result["chroma"], result["delta_e"]
    assert 1.3 <= chosen <= 1.5, result
    assert delta_e[f"{chosen:g}"] <= delta_e["1"]  # no accuracy lost on validation
    stronger = [s for s in STRENGTHS if s > chosen]
    assert all(delta_e[f"{s:g}"] > delta_e["1"] for s in stronger)  # and it is the largest such strength
    assert delta_e["1.2"] < delta_e["1"]  # the right strength (1.2) is more accurate than the model's own
    gap = result["colorfulness_gap"]
    assert gap[f"{chosen:g}"] < gap["1"]  # and more colourful


def test_a_model_that_is_already_strong_enough_keeps_its_own_colours():
    lightness, ab = _photos(1)
    assert fit_colour_strength(lightness, ab, ab)["chroma"] == 1.0  # already right
    assert fit_colour_strength(lightness, ab, ab * 1.3)["chroma"] == 1.0  # too strong: never weakened
