"""The quality race's contestants: ``arch+variant+variant`` stacks training settings left to right."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

RACE_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "quality_race.py"


@pytest.fixture(scope="module")
def race():
    spec = importlib.util.spec_from_file_location("quality_race", RACE_PATH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["quality_race"] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules["quality_race"]


def test_stacked_variants_merge_their_settings(race) -> None:
    assert race.contestant_settings("gallop") == {"architecture": "gallop"}
    assert race.contestant_settings("gallop+ada+seed1") == {"architecture": "gallop", "ada_target": 0.6, "seed": 1}
    assert race.contestant_settings("dcgan+seed1+r3gan")["loss"] == "relativistic"
    assert race.describe_variant("gallop+ada+seed1") == "gallop with ada_target 0.6, seed 1"


def test_a_later_variant_wins_a_shared_setting(race, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(race.VARIANTS, "slow", {"lr_g": 1e-3, "seed": 4})
    assert race.contestant_settings("gallop+seed1+slow")["seed"] == 4
    assert race.contestant_settings("gallop+slow+seed1") == {"architecture": "gallop", "lr_g": 1e-3, "seed": 1}


def test_an_unknown_variant_is_named(race) -> None:
    with pytest.raises(SystemExit, match="unknown variant 'adaa' in 'gallop\\+ada\\+adaa'"):
        race.contestant_settings("gallop+ada+adaa")


def test_one_name_per_contestant(race, monkeypatch: pytest.MonkeyPatch) -> None:
    """Disjoint variants in any order are one contestant (the recorded row's name); shared settings keep order."""
    assert race.canonical_contestant("gallop+seed1+ada") == "gallop+ada+seed1"
    assert race.canonical_contestant("gallop+ada+seed1") == "gallop+ada+seed1"
    assert race.canonical_contestant("dcgan") == "dcgan"
    monkeypatch.setitem(race.VARIANTS, "slow", {"lr_g": 1e-3, "seed": 4})
    assert race.canonical_contestant("gallop+slow+seed1") == "gallop+slow+seed1"
    with pytest.raises(SystemExit, match="unknown variant 'adaa'"):
        race.canonical_contestant("gallop+adaa+ada")
