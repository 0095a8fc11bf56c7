"""`lstm_textcat` and `lstm_textcat_multilabel`: spaCy's textcat contract, an LSTM inside.

The components subclass spaCy's own TextCategorizer classes, so labels, `positive_label`,
`threshold`, `add_label`, gold validation, scorers and serialisation behave exactly as in
`textcat`. What differs is the training step: the loss is computed inside the compiled
Keras graph as cross-entropy (softmax for exclusive classes, per-label sigmoid for
multilabel) rather than spaCy's squared error on the scores.
"""
from itertools import islice
from typing import Any, Callable, Dict, Iterable, List, Optional

import numpy
from spacy.errors import Errors
from spacy.language import Language
from spacy.pipeline.textcat import TextCategorizer, textcat_score
from spacy.pipeline.textcat_multilabel import MultiLabel_TextCategorizer, textcat_multilabel_score
from spacy.tokens import Doc
from spacy.training import Example, validate_examples, validate_get_examples
from thinc.api import Config, Model

from ..component import KerasComponentMixin, TrainingBatch
from .explain import DEFAULT_STEPS, EXTENSION, Explanation, explain_docs
from .model import is_initialized, ngram_path_scores, textcat_training_inputs
from .pretrained import check_compatible, load_language_model
from .selection import EPSILON, guarded_scores

MODEL_CONFIG = """
[model]
@architectures = "spacy_lstm.LSTMTextCat.v2"
exclusive_classes = {exclusive}
attr = "LOWER"
max_vocab = 20000
min_freq = 1
max_length = 400
truncation = "head_tail"
embedding_dim = 128
static_vectors = false
freeze_vectors = false
lstm_width = 128
lstm_depth = 1
bidirectional = true
dropout = 0.3
recurrent_dropout = 0.0
pooling = "max_mean"
attention_width = 64
hidden_width = 0
bow_ngram_size = 2
bow_length = 393217
bow_max_length = 5000
bow_C = [0.03, 0.1, 0.3, 1.0]
bow_weightings = ["nb", "none"]
bow_folds = 3
bow_char_ngrams = 5
bow_char_max_length = 400
pretrained_lr_scale = 1.0
freeze_pretrained_steps = 0
batch_size = 256
nO = null
"""
SCORE_WEIGHTS = {
    "cats_guarded_accuracy": 1.0,
    "cats_score": 0.0,
    "cats_accuracy": None,
    "cats_ngram_accuracy": None,
    "cats_log_loss": None,
    "cats_ngram_log_loss": None,
    "cats_score_desc": None,
    "cats_micro_p": None,
    "cats_micro_r": None,
    "cats_micro_f": None,
    "cats_macro_p": None,
    "cats_macro_r": None,
    "cats_macro_f": None,
    "cats_macro_auc": None,
    "cats_f_per_type": None,
}
# Multilabel, model-best is chosen by the guarded macro F (textcat/selection.py says why).
MULTILABEL_SCORE_WEIGHTS = {
    "cats_guarded_macro_f": 1.0, **SCORE_WEIGHTS, "cats_guarded_accuracy": 0.0, "cats_ngram_macro_f": None,
}


def default_config(exclusive: bool) -> dict:
    """The factory defaults: spaCy's textcat threshold and scorer for the same mode."""
    return {
        "threshold": 0.0 if exclusive else 0.5,
        "explain": False,
        "model": Config().from_str(MODEL_CONFIG.format(exclusive=str(exclusive).lower()))["model"],
        "scorer": {"@scorers": "spacy.textcat_scorer.v2" if exclusive else "spacy.textcat_multilabel_scorer.v2"},
    }


@Language.factory(
    "lstm_textcat", assigns=["doc.cats"], default_config=default_config(True), default_score_weights=SCORE_WEIGHTS
)
def make_lstm_textcat(
    nlp: Language, name: str, model: Model[List[Doc], List], threshold: float, scorer: Optional[Callable],
    explain: bool,
) -> "LSTMTextCategorizer":
    """Exclusive classes (one label per doc), softmax over an LSTM's pooled states.
    explain: also set doc._.lstm_explanation (textcat/explain.py) for the top label."""
    return LSTMTextCategorizer(nlp.vocab, model, name, threshold=threshold, scorer=scorer, explain=explain)


@Language.factory(
    "lstm_textcat_multilabel",
    assigns=["doc.cats"],
    default_config=default_config(False),
    default_score_weights=MULTILABEL_SCORE_WEIGHTS,
)
def make_lstm_textcat_multilabel(
    nlp: Language, name: str, model: Model[List[Doc], List], threshold: float, scorer: Optional[Callable],
    explain: bool,
) -> "LSTMMultiLabelTextCategorizer":
    """Any number of labels per doc (missing values allowed), a sigmoid per label.
    explain: also set doc._.lstm_explanation for the top-scoring label."""
    return LSTMMultiLabelTextCategorizer(nlp.vocab, model, name, threshold=threshold, scorer=scorer, explain=explain)


class LSTMTextCatMixin(KerasComponentMixin):
    """What the LSTM classifiers share; the label logic comes from spaCy's classes."""

    name: str
    model: Model
    labels: tuple
    support_missing_values: bool

    def __init__(self, vocab, model: Model, name: str, *, explain: bool = False, **kwargs):
        super().__init__(vocab, model, name, **kwargs)
        self.set_explanations = explain

    def explain(self, docs: Iterable[Doc], label: Optional[str] = None, *, steps: int = DEFAULT_STEPS) -> List[Explanation]:
        """Which tokens drove each doc's score for `label` (default: the doc's top label), as
        one Explanation per doc, also stored in doc._.lstm_explanation. `steps`: quadrature
        nodes of the integrated gradients (more only if a doc's completeness check fails)."""
        docs = list(docs)
        self._require_initialized()
        for doc in docs:
            if not isinstance(doc, Doc):
                raise TypeError(f"[{self.name}] explain() takes Doc objects, got {type(doc).__name__}: use nlp.make_doc(text) or nlp(text).")
        explanations = explain_docs(self.model, self.labels, docs, label=label, steps=steps) if docs else []
        for doc, explanation in zip(docs, explanations):
            doc._.set(EXTENSION, explanation)
        return explanations

    def set_annotations(self, docs: Iterable[Doc], scores) -> None:
        """doc.cats, and doc._.lstm_explanation when the component's `explain` setting asks."""
        docs = list(docs)
        super().set_annotations(docs, scores)
        if self.set_explanations:
            self.explain(docs)

    def predict(self, docs: Iterable[Doc]):
        """Scores for every doc (empty docs included: they get a valid distribution)."""
        docs = list(docs)
        self._require_initialized()
        if not docs:
            return numpy.zeros((0, len(self.labels)), dtype="float32")
        return self.model.predict(docs)

    def score(self, examples: Iterable[Example], **kwargs) -> Dict[str, Any]:
        """spaCy's textcat scores, plus cats_accuracy, the accuracy of the n-gram path on its
        own (cats_ngram_accuracy) and cats_guarded_accuracy, which counts the LSTM's gain
        over the n-gram path only beyond the dev set's noise (multilabel: also the same for
        macro F, cats_ngram_macro_f and cats_guarded_macro_f): the shipped configs keep the
        model-best checkpoint by it (textcat/selection.py says why)."""
        examples = list(examples)
        scores = super().score(examples, **kwargs)
        if examples and self._is_initialized():
            predicted = numpy.array([[eg.predicted.cats.get(label, 0.0) for label in self.labels] for eg in examples])
            truths, known = self._examples_to_truth(examples)
            scores.update(
                guarded_scores(
                    predicted,
                    ngram_path_scores(self.model, [eg.predicted for eg in examples]),
                    numpy.asarray(truths, dtype="float32"),
                    numpy.asarray(known, dtype="float32"),
                    exclusive=self.model.attrs["cfg"]["exclusive_classes"],
                    threshold=kwargs.get("threshold", self.cfg.get("threshold", 0.5)),
                )
            )
        return scores

    def _training_batch(self, examples: List[Example]):
        """The docs' network inputs, the gold cats and which of them are not missing."""
        self._validate_categories(examples)
        self._check_known_labels(examples)
        truths, not_missing = self._examples_to_truth(examples)
        inputs, offsets = textcat_training_inputs(self.model, [eg.predicted for eg in examples])
        return TrainingBatch(
            inputs, numpy.asarray(truths, dtype="float32"), numpy.asarray(not_missing, dtype="float32"), offsets
        )

    def get_loss(self, examples: Iterable[Example], scores):
        """Cross-entropy of the scores and its gradient with respect to the scores."""
        examples = list(examples)
        validate_examples(examples, f"{type(self).__name__}.get_loss")
        self._validate_categories(examples)
        self._check_known_labels(examples)
        truths, not_missing = self._examples_to_truth(examples)
        p = numpy.clip(self.model.ops.to_numpy(scores), EPSILON, 1.0 - EPSILON)
        truths = numpy.asarray(truths, dtype="float32")
        mask = numpy.asarray(not_missing, dtype="float32")
        if self.support_missing_values:  # independent sigmoids
            loss_cells = -(truths * numpy.log(p) + (1 - truths) * numpy.log(1 - p)) * mask
            d_scores = (p - truths) / (p * (1 - p)) * mask
            loss = loss_cells.sum() / max(mask.sum(), 1.0)
            d_scores /= max(mask.sum(), 1.0)
        else:
            loss = -(truths * numpy.log(p)).sum() / len(examples)
            d_scores = -truths / p / len(examples)
        return float(loss), self.model.ops.asarray2f(d_scores.astype("float32"))

    def _initialize_model(self, get_examples: Callable[[], Iterable[Example]], language_model: Optional[str] = None) -> None:
        """Build the token table (and fit the n-gram path) from ALL training docs (spaCy's
        textcat uses a sample of ten, which is enough for its shapes but not for a
        vocabulary) and the network, its embedding and LSTM taken from `language_model` when
        given. Y holds every doc's gold values, NaN where missing."""
        self._require_labels()
        if language_model is not None:
            cfg = self.model.attrs["cfg"]
            try:
                lm = load_language_model(language_model)
                if "ngram_model" not in cfg:
                    raise ValueError("language_model needs an architecture that can take one: spacy_lstm.LSTMTextCat.v2.")
                check_compatible(lm, cfg, cfg["embedding_dim"])
            except ValueError as err:
                raise ValueError(f"[{self.name}] {err}") from None
            self.model.attrs["training_state"]["language_model"] = lm
        examples = list(get_examples())
        if not examples:
            raise ValueError(Errors.E923.format(name=self.name))
        truths, not_missing = self._examples_to_truth(examples)
        truths = numpy.where(numpy.asarray(not_missing) > 0, numpy.asarray(truths, dtype="float64"), numpy.nan)
        self.model.initialize(X=[eg.reference for eg in examples], Y=truths)

    def _check_known_labels(self, examples: List[Example]) -> None:
        known = set(self.labels)
        for eg in examples:
            unknown = [label for label in eg.reference.cats if label not in known]
            if unknown:
                raise ValueError(
                    f"[{self.name}] The gold annotation has label(s) {unknown} that the "
                    f"component does not know (labels: {list(self.labels)}). Add them with "
                    f"`nlp.get_pipe('{self.name}').add_label(...)` before training, or list "
                    "them in [initialize.components] labels."
                )

    def _is_initialized(self) -> bool:
        return is_initialized(self.model)


class LSTMTextCategorizer(LSTMTextCatMixin, TextCategorizer):
    """Exclusive-class text classifier with a Keras LSTM model."""

    def _validate_categories(self, examples: Iterable[Example]) -> None:
        """spaCy's check, with the fix named in this package's terms."""
        try:
            super()._validate_categories(examples)
        except ValueError as err:
            if "E895" not in str(err):
                raise
            raise ValueError(
                f"{err} With spacy-lstm, use `lstm_textcat_multilabel`: configs/textcat_lstm_multilabel.cfg "
                "(in the project: --vars.config textcat_lstm_multilabel)."
            ) from None

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Iterable[str]] = None,
        positive_label: Optional[str] = None,
        language_model: Optional[str] = None,
    ) -> None:
        """Labels from the data (or given), checked as spaCy's textcat checks them.
        language_model: an lstm_generator pipeline whose embedding and LSTM start the
        classifier's (`[initialize.components.<name>] language_model`)."""
        validate_get_examples(get_examples, "LSTMTextCategorizer.initialize")
        self._validate_categories(get_examples())
        for label in labels if labels is not None else (c for eg in get_examples() for c in eg.y.cats):
            self.add_label(label)
        if len(self.labels) < 2:
            raise ValueError(Errors.E867)
        if positive_label is not None:
            if positive_label not in self.labels:
                raise ValueError(Errors.E920.format(pos_label=positive_label, labels=self.labels))
            if len(self.labels) != 2:
                raise ValueError(Errors.E919.format(pos_label=positive_label, labels=self.labels))
        self.cfg["positive_label"] = positive_label
        self._initialize_model(get_examples, language_model)


class LSTMMultiLabelTextCategorizer(LSTMTextCatMixin, MultiLabel_TextCategorizer):
    """Multi-label text classifier with a Keras LSTM model; missing labels are not penalised."""

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Iterable[str]] = None,
        language_model: Optional[str] = None,
    ) -> None:
        """Labels from the data (or given); any single- or multi-label annotation is valid.
        language_model: as for lstm_textcat."""
        validate_get_examples(get_examples, "LSTMMultiLabelTextCategorizer.initialize")
        for label in labels if labels is not None else (c for eg in get_examples() for c in eg.y.cats):
            self.add_label(label)
        self._validate_categories(list(islice(get_examples(), 10)))
        self._initialize_model(get_examples, language_model)


def find_classifier(nlp: Language, name: Optional[str] = None) -> LSTMTextCatMixin:
    """The pipeline's LSTM classifier: the component `name`, or the first one."""
    for pipe_name, pipe in nlp.pipeline:
        if isinstance(pipe, LSTMTextCatMixin) and (name is None or pipe_name == name):
            return pipe
    which = f"named '{name}' " if name else ""
    raise ValueError(
        f"The pipeline has no lstm_textcat or lstm_textcat_multilabel component {which}to explain "
        f"(components: {nlp.pipe_names})."
    )


__all__ = [
    "find_classifier",
    "LSTMTextCategorizer",
    "LSTMMultiLabelTextCategorizer",
    "make_lstm_textcat",
    "make_lstm_textcat_multilabel",
    "textcat_score",
    "textcat_multilabel_score",
]
