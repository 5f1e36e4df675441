from pathlib import Path

import pytest

from gtnbench.errors import SuiteError
from gtnbench.suite.files import find_suite, load_suite, parse_suite, suite_paths
from gtnbench.suite.trials import expand
from tests.conftest import REPO, TINY_SUITE


def parse(text: str):
    return parse_suite(Path("s.toml"), text)


def error_of(text: str) -> str:
    with pytest.raises(SuiteError) as error:
        parse(text)
    message = str(error.value)
    assert "\n" not in message
    return message


def test_tiny_suite_scales_override_and_expand():
    suite = parse(TINY_SUITE)
    assert suite.scales == ("smoke", "quick") and suite.default_scale == "smoke"
    smoke, quick = suite.at("smoke"), suite.at("quick")
    assert smoke.seeds == [0] and quick.seeds == [0, 1]
    assert smoke.methods["real-fewstep"].lr == [0.05, 0.1] and smoke.methods["real-fewstep"].momentum == [0.9]
    ids = [t.id for t in expand(quick)]
    assert ids[:3] == ["real-fewstep/steps=2/seed=0", "real-fewstep/steps=2/seed=1", "real-fewstep/steps=4/seed=0"]
    assert ids[-1] == "real-epochs/epochs=1/seed=1" and len(ids) == 6


def test_config_hash_is_stable_and_sensitive():
    a, b = parse(TINY_SUITE).at("smoke"), parse(TINY_SUITE).at("smoke")
    assert a.config_hash() == b.config_hash()
    assert a.config_hash() != parse(TINY_SUITE).at("quick").config_hash()
    described = parse(TINY_SUITE.replace("a test suite", "other words")).at("smoke")
    assert described.config_hash() == a.config_hash()


def test_malformed_toml():
    assert error_of('name = "x"\nseeds = [1,').startswith("s.toml: invalid TOML")


def test_not_utf8():
    with pytest.raises(SuiteError, match="not UTF-8"):
        parse_suite(Path("s.toml"), b"name = '\xff'")


def test_unknown_key_is_named():
    message = error_of(TINY_SUITE.replace("batch_size = 16", "batch_size = 16\nlearning_rate = 0.1"))
    assert message == "s.toml: methods.real-fewstep.learning_rate: unknown key"


def test_wrong_type_is_named_with_the_value():
    message = error_of(TINY_SUITE.replace("batch_size = 16", 'batch_size = "16"'))
    assert message.startswith("s.toml: methods.real-fewstep.batch_size: Input should be a valid integer, got '16'")


def test_unknown_dataset():
    message = error_of(TINY_SUITE.replace('dataset = "mnist"', 'dataset = "svhn"'))
    assert message.startswith("s.toml: dataset: ") and "'mnist'" in message and "svhn" in message


def test_unknown_method_kind():
    message = error_of(TINY_SUITE.replace('kind = "real"\nsteps', 'kind = "magic"\nsteps'))
    assert message.startswith("s.toml: methods.real-fewstep: ") and "magic" in message


def test_error_inside_a_scale_names_the_scale():
    text = TINY_SUITE.replace("[scales.smoke]\nseeds = [0]", "[scales.smoke]\nseeds = [-1]")
    assert error_of(text).startswith("s.toml: scales.smoke.seeds.0: Input should be greater than or equal to 0")


def test_missing_required_key():
    assert error_of(TINY_SUITE.replace('dataset = "mnist"\n', "")) == "s.toml: dataset: required key is missing"


def test_budget_is_required():
    message = error_of(TINY_SUITE.replace("steps = [2, 4]\n", ""))
    assert message.startswith("s.toml: methods.real-fewstep: ") and "steps" in message


def test_scales_must_be_known_and_present():
    assert "unknown scale" in error_of(TINY_SUITE + "\n[scales.huge]\n")
    assert "expected a table with at least one of" in error_of(TINY_SUITE.split("[scales.smoke]")[0])


def test_undefined_scale_is_refused():
    with pytest.raises(SuiteError, match="scale 'paper' is not defined"):
        parse(TINY_SUITE).at("paper")


def test_unknown_suite_name_lists_known_ones():
    with pytest.raises(SuiteError, match="unknown suite 'nope'.*smoke"):
        find_suite("nope")


def test_missing_file():
    with pytest.raises(SuiteError, match="cannot read suite file"):
        load_suite(Path("/nonexistent/x.toml"))


def test_every_bundled_suite_is_valid_at_every_scale():
    paths = suite_paths()
    assert "smoke" in paths
    for path in sorted((REPO / "suites").glob("*.toml")):
        suite = load_suite(path)
        for scale in suite.scales:
            assert expand(suite.at(scale)), f"{path.name} at {scale} has no trials"


def test_every_prerequisite_is_a_trial_of_its_suite_that_comes_first():
    """prerequisites builds the trials a trial needs from the configuration, without expanding the suite: they
    are the suite's own trials, earlier in its order, at every scale of every bundled suite."""
    from gtnbench.suite.files import bundled_suite_dir, load_suite
    from gtnbench.suite.trials import expand, prerequisites

    for path in sorted(bundled_suite_dir().glob("*.toml")):
        suite = load_suite(path)
        for scale in suite.scales:
            config = suite.at(scale)
            trials = expand(config)
            order = {t.id: i for i, t in enumerate(trials)}
            for trial in trials:
                for source in prerequisites(config, trial):
                    assert source.id in order and order[source.id] < order[trial.id], (path.name, scale, trial.id)
