"""`lstm_generator`: an LSTM language model that learns from plain text and writes new text.

    nlp = spacy.load("training/gen/model-best")
    gen = nlp.get_pipe("lstm_generator")
    gen.generate("ROMEO:", n=3, max_length=400, temperature=0.7, top_p=0.9, seed=1, stop=["\\n\\n"])
    for piece in gen.generate_stream("ROMEO:", max_length=400):
        print(piece, end="", flush=True)
    nlp("Some text")._.lstm_perplexity

Training (`spacy train`) reads raw text (e.g. with `spacy_lstm.PlainTextCorpus.v1`); no
annotation is needed. `update` cuts every doc into windows of `seq_length` units (at a random
offset each time, so the window borders move between epochs) and takes one compiled Keras
step over all windows of the batch. Running the pipeline scores docs: `doc._.lstm_perplexity`
(per unit), `doc._.lstm_bpc` (bits per character), and the scorer reports `lstm_bpc`,
`lstm_perplexity` and `lstm_score` = 2 ** -bpc (the geometric-mean probability the model gives
each character: higher is better, in (0, 1]), which picks `model-best`.
"""
import math
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Union

import numpy
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.util import registry
from thinc.api import Config, Model

from ..component import KerasComponentMixin, TrainingBatch, loss_recorder
from ..model_attrs import get_shim
from ..validate import check_integer
from .architecture import (
    check_training_text, generator_is_initialized, grow_unit_table, model_units, score_docs, stack_streams, unit_index,
)
from .generation import check_stop, cut_windows, doc_units, iter_generation
from .sampling import validate_sampling_args
from .streams import STREAM_KEY

MODEL_CONFIG = """
[model]
@architectures = "spacy_lstm.LSTMGenerator.v1"
level = "char"
max_vocab = 256
min_freq = 1
embedding_dim = 64
lstm_width = 256
lstm_depth = 1
dropout = 0.0
batch_size = 64
"""
DEFAULT_MODEL = Config().from_str(MODEL_CONFIG)["model"]
# lstm_score picks model-best; the others have weight 0.0 so that they show in the training
# table (spaCy hides None-weighted scores there and multiplies shown scores by 100).
SCORE_WEIGHTS = {
    "lstm_score": 1.0, "lstm_bpc": 0.0, "lstm_window_bpc": 0.0, "lstm_perplexity": 0.0, "lstm_unknown_share": None,
}
LN2 = math.log(2.0)

for _ext in ("lstm_perplexity", "lstm_bpc", "lstm_unknown_share", "lstm_lm_stats"):
    if not Doc.has_extension(_ext):
        Doc.set_extension(_ext, default=None)


@registry.scorers("spacy_lstm.language_model_scorer.v1")
def make_language_model_scorer() -> Callable:
    return language_model_score


def language_model_score(examples: Iterable[Example], **kwargs) -> Dict[str, Optional[float]]:
    """Bits per character (each doc read as one stream, state carried as in generation),
    the same window by window from a zero state (`lstm_window_bpc`), per-unit perplexity,
    lstm_score = 2 ** -bpc and the share of units outside the unit table, over all docs, from
    `doc._.lstm_lm_stats` set by the component (summed, so long docs weigh more)."""
    nll = units = chars = unknown = window_nll = 0.0
    for eg in examples:
        stats = eg.predicted._.lstm_lm_stats
        if stats is not None:
            nll, units, chars = nll + stats[0], units + stats[1], chars + stats[2]
            unknown += stats[3] if len(stats) > 3 else 0
            window_nll += stats[4] if len(stats) > 4 else stats[0]
    if units == 0 or chars == 0:
        return {key: None for key in SCORE_WEIGHTS}
    bpc = nll / LN2 / chars
    return {
        "lstm_score": 2.0**-bpc, "lstm_bpc": bpc, "lstm_window_bpc": window_nll / LN2 / chars,
        "lstm_perplexity": math.exp(nll / units), "lstm_unknown_share": unknown / units,
    }


@Language.factory(
    "lstm_generator",
    assigns=["doc._.lstm_perplexity", "doc._.lstm_bpc", "doc._.lstm_unknown_share", "doc._.lstm_lm_stats"],
    default_config={
        "model": DEFAULT_MODEL,
        "seq_length": 100,
        "stateful_training": False,
        "state_reset_rate": 0.25,
        "scorer": {"@scorers": "spacy_lstm.language_model_scorer.v1"},
    },
    default_score_weights=SCORE_WEIGHTS,
)
def make_lstm_generator(
    nlp: Language, name: str, model: Model, seq_length: int, stateful_training: bool, state_reset_rate: float,
    scorer: Optional[Callable],
) -> "LSTMGenerator":
    """An LSTM language model: trains on raw text, scores docs, generates text."""
    return LSTMGenerator(
        nlp.vocab, model, name, seq_length=seq_length, stateful_training=stateful_training,
        state_reset_rate=state_reset_rate, scorer=scorer, tokenizer=nlp.tokenizer,
    )


class LSTMGenerator(KerasComponentMixin, TrainablePipe):
    """LSTM language model component (see the module docstring)."""

    def __init__(
        self,
        vocab,
        model: Model,
        name: str = "lstm_generator",
        *,
        seq_length: int = 100,
        stateful_training: bool = False,
        state_reset_rate: float = 0.25,
        scorer: Optional[Callable] = language_model_score,
        tokenizer: Optional[Callable[[str], Doc]] = None,
    ) -> None:
        try:
            check_integer("seq_length", seq_length, 1)
        except ValueError as err:
            raise ValueError(f"[{name}] {err}") from None
        if not isinstance(stateful_training, bool):
            raise ValueError(f"[{name}] stateful_training must be true or false, got {stateful_training!r}.")
        if isinstance(state_reset_rate, bool) or not isinstance(state_reset_rate, (int, float)) \
                or not 0.0 <= state_reset_rate <= 1.0:
            raise ValueError(
                f"[{name}] state_reset_rate is the share of stream rows that restart from a zero state "
                f"each step: a number from 0 to 1 (e.g. 0.25), got {state_reset_rate!r}."
            )
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self.cfg = {
            "seq_length": seq_length, "stateful_training": stateful_training,
            "state_reset_rate": float(state_reset_rate),
        }
        self._stream_rows: List[Optional[tuple]] = []  # per batch row: (stream, end, units left)
        self._tokenizer = tokenizer
        self._rng = numpy.random.default_rng(0)
        self.n_units_trained = 0  # target units seen by update() in this process

    @property
    def level(self) -> str:
        return self.model.attrs["cfg"]["level"]

    @property
    def unit_attr(self) -> Optional[str]:
        """The token attribute a unit is (LSTMGenerator.v2 `attr`), or None."""
        return self.model.attrs["cfg"]["attr"]

    @property
    def seq_length(self) -> int:
        return self.cfg["seq_length"]

    @property
    def units(self) -> List[str]:
        """The unit table: padding, unknown, then the units by training frequency."""
        return list(self.model.attrs["unit_table"].tokens)

    # -- training ---------------------------------------------------------------------------

    def initialize(self, get_examples: Callable[[], Iterable[Example]], *, nlp: Optional[Language] = None) -> None:
        """Build the unit table from all training texts and the network with fresh weights."""
        if callable(get_examples) and not any(True for _ in get_examples()):
            raise ValueError(
                f"[{self.name}] The training corpus is empty: check [paths.train] / the reader's "
                "path, or pass examples to nlp.initialize(get_examples)."
            )
        validate_get_examples(get_examples, "LSTMGenerator.initialize")
        docs = [eg.reference for eg in get_examples()]
        try:
            check_training_text(docs, self.level, self.seq_length, self.unit_attr)
            self.model.initialize(X=docs)
        except ValueError as err:
            raise ValueError(f"[{self.name}] {err}") from None

    def _training_batch(self, examples: List[Example]):
        """All windows of the examples' texts (inputs, targets, weights), each window at a
        random offset for texts longer than two windows, so the borders move between epochs."""
        index = unit_index(self.model)
        L = self.seq_length
        parts = []
        for eg in examples:
            ids = index.encode(model_units(self.model, eg.predicted))
            offset = int(self._rng.integers(0, L)) if len(ids) > 2 * L else 0
            inputs, targets, weights = cut_windows(ids, L, offset)
            if len(inputs):
                parts.append((inputs, targets, weights))
        if not parts:
            return None
        batch = TrainingBatch(*(numpy.concatenate([p[i] for p in parts]) for i in range(3)))
        self.n_units_trained += int(batch.weights.sum())
        return batch

    def update(self, examples: Iterable[Example], *, drop: float = 0.0, sgd=None, losses=None) -> Dict[str, float]:
        """One training step (see KerasComponentMixin.update); with `stateful_training`,
        truncated backpropagation through time (`_stream_batch`)."""
        examples = list(examples)
        if self.level == "char" and examples and self._is_initialized():
            grow_unit_table(self.model, set("".join(eg.predicted.text for eg in examples)))
        if not self.cfg.get("stateful_training"):
            return super().update(examples, drop=drop, sgd=sgd, losses=losses)
        losses = {} if losses is None else losses
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, "LSTMGenerator.update")
        if examples:
            self._require_initialized()
            batch = self._stream_batch(examples)
            if batch is not None:
                get_shim(self.model).update_streams(*batch, sgd, on_loss=loss_recorder(losses, self.name))
        return losses

    def _stream_batch(self, examples: List[Example]):
        """Truncated backpropagation through time: each example is a batch row whose windows
        are trained one after another with the LSTM state carried (inputs, targets, weights
        [windows, rows, seq_length] and which rows continue the previous step's row).

        A doc from `PlainTextStreams.v1` (streams.py) continues the row's text when its stream
        mark follows the previous one: the units not yet trained are kept for the next step,
        so every window is full and the state never runs over padding. Any other doc is a
        text of its own: all its windows, the last one padded, from a zero state."""
        index = unit_index(self.model)
        L = self.seq_length
        examples = sorted(examples, key=lambda eg: eg.predicted.user_data.get(STREAM_KEY) or ())
        previous = self._stream_rows if len(self._stream_rows) == len(examples) else [None] * len(examples)
        streams, keep, rows = [], numpy.zeros(len(examples), bool), []
        for r, eg in enumerate(examples):
            ids = index.encode(model_units(self.model, eg.predicted))
            mark = eg.predicted.user_data.get(STREAM_KEY)
            if mark is None:
                rows.append(None)
                streams.append(ids)
                continue
            before = previous[r]
            if before is not None and before[0] == mark[:2] and before[1] == mark[2]:
                ids, keep[r] = numpy.concatenate([before[2], ids]), True
            n_full = (len(ids) - 1) // L
            streams.append(ids[: n_full * L + 1])
            rows.append((mark[:2], mark[3], ids[n_full * L :]))
        self._stream_rows = rows
        # Generation starts from a zero state; a model that met it only at epoch starts falls
        # into garbage after a prompt such as "ROMEO:". So a share of the rows (state_reset_rate)
        # restarts from zeros every step.
        keep &= self._rng.random(len(keep)) >= self.cfg.get("state_reset_rate", 0.0)
        inputs, targets, weights = stack_streams(streams, L)
        if not weights.any():
            return None
        self.n_units_trained += int(weights.sum())
        return inputs, targets, weights, keep

    def get_loss(self, examples, scores):
        raise NotImplementedError("lstm_generator computes its loss inside the Keras graph (see update).")

    # -- scoring docs -----------------------------------------------------------------------

    def predict(self, docs: Iterable[Doc]) -> numpy.ndarray:
        """[n_docs, 5]: negative log-likelihood (nats, state carried), units scored,
        characters scored, unknown units scored, negative log-likelihood window by window."""
        docs = list(docs)
        self._require_initialized()
        if not docs:
            return numpy.zeros((0, 5))
        return score_docs(self.model, docs, self.seq_length)

    def set_annotations(self, docs: Iterable[Doc], stats) -> None:
        for doc, (nll, units, chars, unknown, window_nll) in zip(docs, stats):
            if units:
                doc._.lstm_lm_stats = (float(nll), int(units), int(chars), int(unknown), float(window_nll))
                doc._.lstm_perplexity = math.exp(nll / units)
                doc._.lstm_bpc = nll / LN2 / chars if chars else None
                doc._.lstm_unknown_share = unknown / units
            else:  # fewer than two units: nothing to score
                doc._.lstm_lm_stats = doc._.lstm_perplexity = doc._.lstm_bpc = doc._.lstm_unknown_share = None

    # -- generation -------------------------------------------------------------------------

    def generate(
        self,
        prompt: str = "",
        *,
        n: int = 1,
        max_length: int = 200,
        temperature: float = 1.0,
        top_k: Optional[int] = None,
        top_p: Optional[float] = None,
        seed: Optional[int] = None,
        stop: Union[None, str, Sequence[str]] = None,
    ) -> List[str]:
        """Write n continuations of `prompt` (the prompt is not repeated), as one batch.

        max_length: units to generate at most (characters, or tokens at level "token").
        temperature: 0 = greedy; top_k / top_p: see spacy_lstm.sampling.
        seed: same seed and arguments, same texts; None = not reproducible.
        stop: string(s); a text ends before the first one it contains (not included).
        """
        texts = [""] * n if isinstance(n, int) and n > 0 else []
        for pieces in self._iter(prompt, n, max_length, temperature, top_k, top_p, seed, stop):
            texts = [t + p for t, p in zip(texts, pieces)]
        return texts

    def generate_stream(
        self,
        prompt: str = "",
        *,
        max_length: int = 200,
        temperature: float = 1.0,
        top_k: Optional[int] = None,
        top_p: Optional[float] = None,
        seed: Optional[int] = None,
        stop: Union[None, str, Sequence[str]] = None,
    ) -> Iterator[str]:
        """Like generate(n=1) but yields the text piece by piece as it is written; the pieces
        join to exactly generate(...)[0] with the same arguments."""
        for pieces in self._iter(prompt, 1, max_length, temperature, top_k, top_p, seed, stop):
            if pieces[0]:
                yield pieces[0]

    def _iter(self, prompt, n, max_length, temperature, top_k, top_p, seed, stop):
        validate_sampling_args(temperature, top_k, top_p, n, max_length)
        stops = check_stop(stop)
        if not isinstance(prompt, str):
            raise ValueError(f"prompt must be a string, got {type(prompt).__name__}.")
        check_integer("seed", seed, 0, none="not reproducible")
        self._require_initialized()
        return iter_generation(
            get_shim(self.model), unit_index(self.model), self.prompt_ids(prompt), n=n,
            max_length=max_length, temperature=temperature, top_k=top_k, top_p=top_p,
            seed=seed, stop=stops, unit_suffix=" " if self.unit_attr else "",
        )

    def prompt_ids(self, prompt: str) -> numpy.ndarray:
        """The prompt as unit ids. Units not in the table become the unknown id. An empty
        prompt starts from a newline (or, without one in the table, the most frequent unit)."""
        index = unit_index(self.model)
        if self.level == "char":
            units = list(prompt)
        else:
            if self._tokenizer is None:
                raise ValueError(f"[{self.name}] a token-level generator needs the pipeline's tokenizer.")
            units = doc_units(self._tokenizer(prompt), "token", self.unit_attr)
        if not units:
            start = "\n" if "\n" in index.ids else index.table.tokens[2]
            return numpy.asarray([index.ids[start]], dtype="int32")
        return index.encode(units)

    # -- helpers ----------------------------------------------------------------------------

    def _is_initialized(self) -> bool:
        return generator_is_initialized(self.model)

    def add_label(self, label: str) -> int:
        raise NotImplementedError("lstm_generator has no labels.")


__all__ = ["LSTMGenerator", "make_lstm_generator", "language_model_score"]
