"""Learning-rate schedules for spaCy's `[training.optimizer]`, registered as `thinc_schedules`.

`spacy_lstm.decay_at_end.v1` keeps the rate constant, then lowers it linearly to 0 over the
last share of the run: an annealing end for a fixed step budget. Like spaCy's warmup_linear,
`total_steps` is a literal that should equal `[training] max_steps` (an interpolated
`${training.max_steps}` would break `nlp.create_optimizer()` on a loaded pipeline, whose config
keeps the variable). It assumes a step budget, not a corpus size.
"""
from typing import Iterator

from thinc.api import registry

from .validate import check_integer, check_number


@registry.schedules("spacy_lstm.decay_at_end.v1")
def decay_at_end(rate: float, total_steps: int, decay_share: float = 0.25) -> Iterator[float]:
    """`rate` for the first (1 - decay_share) * total_steps steps, then linearly down to 0 at
    `total_steps`. total_steps = 0 (spaCy's "no step limit") keeps the rate constant."""
    check_number("decay_at_end rate", rate, 0.0, low_open=True)
    check_integer("decay_at_end total_steps", total_steps, 0, meaning="equal to [training] max_steps; 0: no decay")
    check_number("decay_at_end decay_share", decay_share, 0.0, 1.0, meaning="the share of the steps over which the rate falls to 0")
    decay_steps = round(total_steps * decay_share)
    start = total_steps - decay_steps
    step = 0
    while True:
        if total_steps == 0 or step < start:
            yield rate
        else:
            yield rate * max(0.0, (total_steps - step) / max(1, decay_steps))
        step += 1
