"""What every spacy-lstm component shares: clear errors when used untrained or loaded from
incomplete or corrupted data, and recording losses that are known only after a fused step."""
from pathlib import Path
from typing import Callable, Dict, Union

from spacy.util import SimpleFrozenList
from thinc.api import Model

from ..errors import ModelDataError, NotInitializedError


def loss_recorder(losses: Dict[str, float], name: str) -> Callable[[float], None]:
    """A callback that adds a training step's loss to spaCy's `losses` dict when it is known."""

    def record(loss: float) -> None:
        losses[name] = losses.get(name, 0.0) + loss

    return record


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

    def from_bytes(self, bytes_data: bytes, *, exclude=SimpleFrozenList()):
        try:
            return super().from_bytes(bytes_data, exclude=exclude)
        except ModelDataError as err:
            raise ModelDataError(f"[{self.name}] {err}") from None
        except (ValueError, TypeError, KeyError) as err:
            raise ModelDataError(
                f"[{self.name}] The component data could not be read ({err}). It is corrupted "
                "or from an incompatible version: retrain or re-save the pipeline."
            ) from None

    def from_disk(self, path: Union[str, Path], *, exclude=SimpleFrozenList()):
        weights_file = Path(path) / "model"
        if "model" not in exclude and not weights_file.is_file():
            raise ModelDataError(
                f"[{self.name}] The weights file {weights_file} is missing. Copy the complete "
                "pipeline directory (as written by nlp.to_disk / spacy train) or retrain."
            )
        try:
            return super().from_disk(path, exclude=exclude)
        except ModelDataError as err:
            raise ModelDataError(f"[{self.name}] {err} (file: {weights_file})") from None
        except (ValueError, TypeError, KeyError) as err:
            raise ModelDataError(
                f"[{self.name}] {weights_file} could not be read ({err}). The file is corrupted "
                "or from an incompatible version: restore it from the trained pipeline or retrain."
            ) from None
