"""What every spacy-lstm component shares: clear errors when used untrained or loaded from
incomplete or corrupted data, and `update`, whose loss is known only after the fused training
step (each component says what one step learns from in `_training_batch`)."""
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Union

import numpy
from spacy.training import Example, validate_examples
from spacy.util import SimpleFrozenList
from thinc.api import Model, Optimizer

from .errors import ModelDataError, NotInitializedError
from .model_attrs import get_shim


def loss_recorder(losses: Dict[str, float], name: str) -> Callable[[float], None]:
    """A callback that adds a training step's loss to spaCy's `losses` dict when it is known."""

    def record(loss: float) -> None:
        losses[name] = losses.get(name, 0.0) + loss

    return record


class TrainingBatch(NamedTuple):
    """What one training step learns from: the network inputs, the targets, each target's
    weight (0 = missing or padding), and optional logit offsets the network learns on top of."""

    inputs: Any
    targets: numpy.ndarray
    weights: numpy.ndarray
    logit_offsets: Optional[numpy.ndarray] = None


class KerasComponentMixin:
    """Mixed into TrainablePipe subclasses whose model holds a KerasShim."""

    name: str
    model: Model

    def _is_initialized(self) -> bool:
        raise NotImplementedError

    def _require_initialized(self) -> None:
        if not self._is_initialized():
            raise NotInitializedError(
                f"The '{self.name}' component has not been trained or initialized: train it "
                "with `spacy train`, call nlp.initialize() first, or load a trained pipeline "
                "with spacy.load()."
            )

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Optimizer] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        """One compiled Keras training step on the batch: forward, loss, backward and the
        optimizer step in one TensorFlow graph. Without `sgd` (as in spaCy's training loop)
        the step runs at `finish_update`, and the loss reaches `losses` then. Dropout comes
        from the architecture's `dropout` setting, not from `drop`."""
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, f"{type(self).__name__}.update")
        if not examples:
            return losses
        self._require_initialized()
        batch = self._training_batch(examples)
        if batch is not None:
            get_shim(self.model).update(
                batch.inputs, batch.targets, batch.weights, sgd,
                on_loss=loss_recorder(losses, self.name), logit_offsets=batch.logit_offsets,
            )
        return losses

    def _training_batch(self, examples: List[Example]) -> Optional[TrainingBatch]:
        """What one step learns from, or None: nothing to learn."""
        raise NotImplementedError

    @contextmanager
    def _reading(self, what: str, file: Optional[Path] = None) -> Iterator[None]:
        """Turn what a corrupted or mismatched model file raises into a ModelDataError that
        names the component, the file and the fix."""
        try:
            yield
        except ModelDataError as err:
            raise ModelDataError(f"[{self.name}] {err}" + (f" (file: {file})" if file else "")) from None
        except (ValueError, TypeError, KeyError) as err:
            fix = "restore it from the trained pipeline or retrain" if file else "retrain or re-save the pipeline"
            raise ModelDataError(
                f"[{self.name}] {what} could not be read ({err}). It is corrupted or from an "
                f"incompatible version: {fix}."
            ) from None

    def from_bytes(self, bytes_data: bytes, *, exclude=SimpleFrozenList()):
        with self._reading("The component data"):
            return super().from_bytes(bytes_data, exclude=exclude)

    def from_disk(self, path: Union[str, Path], *, exclude=SimpleFrozenList()):
        weights_file = Path(path) / "model"
        if "model" not in exclude and not weights_file.is_file():
            raise ModelDataError(
                f"[{self.name}] The weights file {weights_file} is missing. Copy the complete "
                "pipeline directory (as written by nlp.to_disk / spacy train) or retrain."
            )
        with self._reading(str(weights_file), weights_file):
            return super().from_disk(path, exclude=exclude)
