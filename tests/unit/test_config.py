"""The typed config: profiles are data, overrides type-check, mistakes name the field."""

import pytest

from commentslab.services.common.config import available_profiles, load_config
from commentslab.services.common.errors import ConfigError


def test_every_shipped_profile_validates():
    assert {"smoke", "cpu", "gpu"} <= set(available_profiles())
    for name in available_profiles():
        assert load_config(name).profile == name


def test_overrides_are_parsed_as_yaml_scalars():
    cfg = load_config("smoke", ["train.steps=3", "generate.temperature=0", "evaluate.k=[1, 2]"])
    assert cfg.train.steps == 3
    assert cfg.generate.temperature == 0
    assert cfg.evaluate.k == [1, 2]


def test_unknown_profile_names_the_choices():
    with pytest.raises(ConfigError, match=r"profile 'nope' does not exist; choose one of cpu, cpu-reference, gpu, smoke"):
        load_config("nope")


def test_unknown_field_and_bad_value_are_named():
    with pytest.raises(ConfigError, match=r"train\.stepz"):
        load_config("smoke", ["train.stepz=3"])
    with pytest.raises(ConfigError, match=r"data\.ratios"):
        load_config("smoke", ["data.ratios=[0.5, 0.5, 0.5]"])
    with pytest.raises(ConfigError, match="section.name=value"):
        load_config("smoke", ["train.steps"])
