"""Small-set teachers as suite methods: their schema and one-line errors, one trial per protocol, what
each trial needs first, and the names the schema shares with the code that runs them."""

import pytest

from gtnbench.data.names import DSA_TRANSFORMS as TRANSFORMS
from gtnbench.distill.dc import REFERENCE_LOOPS
from gtnbench.errors import SuiteError
from gtnbench.methods import TRIAL_FUNCTIONS
from gtnbench.methods.sets import SET_METHOD_NAMES
from gtnbench.suite.config import ANCHOR_IDS
from gtnbench.suite.files import parse_suite
from gtnbench.suite.methods import DC_REFERENCE_IPC, DSA_TRANSFORMS, SET_KINDS
from gtnbench.suite.trials import expand, prerequisites, set_maker

BASE = """
name = "sets"
dataset = "mnist"
seeds = [0, 1]

[learner]
name = "mnist-paper"
widths = [3, 6]

[set_evaluation]
equal_steps = { steps = 4, batch_size = 8 }
own_recipe = { epochs = 3 }

[methods.gtn]
kind = "gtn"
inner_steps = 4
batch_size = 8

[methods.subset-2]
kind = "subset"
images_per_class = 2

[methods.dm-t]
kind = "dm"
total = "equal-steps"

[methods.from-gtn]
kind = "gtn-set"
gtn = "gtn"
"""

NAS = """
[nb201]
architectures = { count = 3 }

[methods.proxy]
kind = "nb201-train"
teacher = "set"
set = "subset-2"
steps = [2]
lr = [0.05, 0.1]
calibration = { count = 2 }
"""


def suite(text, scale="[scales.smoke]\n"):
    return parse_suite("x.toml", text + scale).at("smoke")


def test_each_set_method_has_one_trial_per_protocol_and_seed():
    config = suite(BASE)
    ids = [t.id for t in expand(config) if t.method == "subset-2"]
    assert ids == [
        "subset-2/steps=4/seed=0",
        "subset-2/steps=4/seed=1",
        "subset-2/epochs=3/seed=0",
        "subset-2/epochs=3/seed=1",
    ]
    only_b = suite(
        BASE.replace("own_recipe = { epochs = 3 }", 'own_recipe = { epochs = 3 }\nprotocols = ["own-recipe"]')
    )
    assert [t.id for t in expand(only_b) if t.method == "subset-2"] == [
        "subset-2/epochs=3/seed=0",
        "subset-2/epochs=3/seed=1",
    ]


def test_the_first_protocol_makes_the_set_and_the_rest_wait_for_it():
    config = suite(BASE + NAS)
    trials = expand(config)
    by_id = {t.id: t for t in trials}

    def needs(trial_id):
        return [t.id for t in prerequisites(config, by_id[trial_id])]

    assert set_maker(config, "subset-2", 1).id == "subset-2/steps=4/seed=1"
    assert needs("subset-2/steps=4/seed=1") == []
    assert needs("subset-2/epochs=3/seed=1") == ["subset-2/steps=4/seed=1"]
    assert needs("from-gtn/steps=4/seed=0") == ["gtn/steps=4/seed=0"]  # the GTN it draws its images from
    assert needs("from-gtn/epochs=3/seed=0") == ["from-gtn/steps=4/seed=0"]
    proxy = next(t for t in trials if t.method == "proxy" and t.kind == "nb201-train" and t.seed == 1)
    calibration = next(t for t in trials if t.method == "proxy" and t.kind == "nb201-calibrate" and t.seed == 1)
    assert needs(calibration.id) == ["subset-2/steps=4/seed=1"]
    assert needs(proxy.id) == ["subset-2/steps=4/seed=1", calibration.id]


@pytest.mark.parametrize(
    "table, message",
    [
        (
            '[methods.bad]\nkind = "subset"\nimages_per_class = 2\ntotal = 40\n',
            "x.toml: methods.bad: give exactly one of `images_per_class`, `total` and `counts`",
        ),
        ('[methods.bad]\nkind = "subset"\n', "give exactly one of `images_per_class`, `total` and `counts`"),
        ('[methods.bad]\nkind = "subset"\ncounts = [2, 0]\n', "methods.bad.counts.1"),
        ('[methods.bad]\nkind = "coreset"\ncheckpoint = "set.pt"\nimages_per_class = 2\n', "has its own size"),
        ('[methods.bad]\nkind = "dc"\nimages_per_class = 7\n', "give both"),
        ('[methods.bad]\nkind = "dc"\nimages_per_class = 10\nouter_loop = 3\n', "or neither"),
        ('[methods.bad]\nkind = "dm"\nimages_per_class = 2\ndsa = ["twirl"]\n', "methods.bad.dsa.0"),
        ('[methods.bad]\nkind = "coreset"\nimages_per_class = 2\nselection = "random"\n', "methods.bad.selection"),
        ('[methods.bad]\nkind = "subset"\ntotal = "all"\n', "methods.bad.total"),
        ('[methods.bad]\nkind = "gtn-set"\ngtn = "gtn"\ngtn_checkpoint = "g.pt"\n', "exactly one of `gtn`"),
        ('[methods.bad]\nkind = "gtn-set"\ngtn = "subset-2"\n', "methods.bad.gtn: 'subset-2' is not a gtn method"),
    ],
)
def test_set_methods_are_checked_with_one_line_errors(table, message):
    with pytest.raises(SuiteError, match=message) as error:
        suite(BASE + table)
    assert str(error.value).startswith("x.toml: ") and "\n" not in str(error.value)


@pytest.mark.parametrize(
    "change, message",
    [
        (('set = "subset-2"', 'set = "gtn"'), "methods.proxy.set: 'gtn' is not a small-set method"),
        (('set = "subset-2"', 'set = "subset-2"\ncheckpoint = "s.pt"'), "exactly one of `set`"),
        (('teacher = "set"', 'teacher = "real"'), "`gtn`, `set` and `checkpoint` only go with"),
        (
            ('teacher = "set"\nset = "subset-2"', 'teacher = "gtn"\ngtn = "gtn"\nset = "subset-2"'),
            "`set` only goes with",
        ),
    ],
)
def test_a_set_proxy_names_a_set_method_of_the_suite(change, message):
    with pytest.raises(SuiteError, match=message):
        suite(BASE + NAS.replace(*change))


def test_a_set_proxy_comes_after_its_set():
    reordered = (
        BASE.replace('[methods.subset-2]\nkind = "subset"\nimages_per_class = 2\n', "")
        + NAS
        + '\n[methods.subset-2]\nkind = "subset"\nimages_per_class = 2\n'
    )
    with pytest.raises(SuiteError, match="must come before 'proxy'"):
        suite(reordered)


def test_protocols_are_named_once_and_scales_override_them():
    with pytest.raises(SuiteError, match="names a protocol twice"):
        suite(
            BASE.replace(
                "own_recipe = { epochs = 3 }", 'own_recipe = { epochs = 3 }\nprotocols = ["own-recipe", "own-recipe"]'
            )
        )
    config = suite(BASE, "[scales.smoke.set_evaluation]\nequal_steps = { steps = 2 }\n")
    assert config.set_evaluation.equal_steps.steps == 2 and config.set_evaluation.equal_steps.batch_size == 8


def test_the_schema_and_the_code_name_the_same_things():
    from gtnbench.claims import CLAIMS

    assert DSA_TRANSFORMS == TRANSFORMS and DC_REFERENCE_IPC == tuple(sorted(REFERENCE_LOOPS))
    assert set(SET_KINDS) <= set(TRIAL_FUNCTIONS) and set(SET_KINDS) == set(SET_METHOD_NAMES)
    assert set(ANCHOR_IDS) <= set(CLAIMS)
