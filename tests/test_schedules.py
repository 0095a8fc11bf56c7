"""spacy_lstm.decay_at_end.v1: constant, then linearly to 0 over the run's last share."""
import itertools
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import srsly
from spacy.cli._util import parse_config_overrides
from spacy.util import load_config
from thinc.api import Config, registry

import spacy_lstm.schedules  # noqa: F401  (registers the schedule, as the entry point does)

CONFIG = """
[training]
max_steps = 8

[training.optimizer]
@optimizers = "Adam.v1"

[training.optimizer.learn_rate]
@schedules = "spacy_lstm.decay_at_end.v1"
rate = 0.004
total_steps = 8
decay_share = 0.25
"""


def first(schedule, n):
    return list(itertools.islice(schedule, n))


def test_constant_then_linear_to_zero():
    rates = first(registry.schedules.get("spacy_lstm.decay_at_end.v1")(0.004, 8, 0.25), 10)
    assert rates[:7] == [0.004] * 7  # the decay's first step is still the full rate
    assert rates[7:] == pytest.approx([0.002, 0.0, 0.0])


def test_optimizer_from_a_config_steps_through_the_schedule():
    for max_steps, decay_from in ((8, 6), (400, 300)):
        config = Config().from_str(CONFIG, overrides={"training.max_steps": max_steps, "training.optimizer.learn_rate.total_steps": max_steps})
        optimizer = registry.resolve(config["training"])["optimizer"]
        rates = []
        for _ in range(max_steps):
            rates.append(optimizer.learn_rate)
            optimizer.step_schedules()
        assert rates[decay_from] == pytest.approx(0.004)
        assert rates[decay_from + 1] < 0.004
        assert rates[-1] == pytest.approx(0.004 / (max_steps - decay_from))


def test_no_step_limit_keeps_the_rate():
    assert first(registry.schedules.get("spacy_lstm.decay_at_end.v1")(0.004, 0), 5) == [0.004] * 5


@pytest.mark.parametrize("kwargs, word", [
    ({"rate": 0.0, "total_steps": 8}, "rate"),
    ({"rate": 0.004, "total_steps": -1}, "total_steps"),
    ({"rate": 0.004, "total_steps": 8, "decay_share": 1.5}, "decay_share"),
])
def test_bad_settings_name_the_setting(kwargs, word):
    with pytest.raises(ValueError, match=word):
        first(registry.schedules.get("spacy_lstm.decay_at_end.v1")(**kwargs), 1)


def test_entry_point_resolves_without_import():
    code = (
        "import sys\nfrom thinc.api import registry\n"
        "schedule = registry.schedules.get('spacy_lstm.decay_at_end.v1')(0.01, 4)\n"
        "assert 'tensorflow' not in sys.modules\nprint(next(schedule))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "0.01"


@pytest.mark.parametrize("config_name", ["generator_char", "generator_token"])
def test_project_step_budget_is_the_schedules_end(config_name):
    """train-generator's --vars.gen_max_steps reaches the schedule too: no steps at rate 0 after
    the schedule's end, and no decay cut short, with either shipped generator config."""
    root = Path(__file__).resolve().parents[1]
    project = srsly.read_yaml(root / "project.yml")
    command = next(c for c in project["commands"] if c["name"] == "train-generator")["script"][-1]
    budget = 4321
    args = shlex.split(command.replace("${vars.gen_max_steps}", str(budget)))
    training_options = [x for option, value in zip(args, args[1:]) if option.startswith("--training.") for x in (option, value)]
    overrides = parse_config_overrides(training_options)
    config = load_config(root / "configs" / f"{config_name}.cfg", overrides=overrides, interpolate=False)
    assert config["training"]["max_steps"] == budget
    assert config["training"]["optimizer"]["learn_rate"]["total_steps"] == budget
    rates = first(registry.resolve({"lr": config["training"]["optimizer"]["learn_rate"]})["lr"], budget)
    assert min(rates) > 0.0, "a step inside the budget trains at rate 0"
