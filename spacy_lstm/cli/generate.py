"""``spacy lstm-generate``: write text with a trained `lstm_generator` pipeline.

Registered on spaCy's CLI app through the ``spacy_cli`` entry point
(``lstm-generate = spacy_lstm.cli.generate:generate_cli``) and also available as
``python -m spacy_lstm generate`` and ``spacy-lstm generate``.
"""
from pathlib import Path
from typing import List, Optional

from wasabi import msg

from spacy.cli._util import Arg, Opt, app, import_code

from ..errors import ModelDataError


@app.command("lstm-generate")
def generate_cli(
    # fmt: off
    model: str = Arg(..., help="Pipeline name or path (e.g. training/gen/model-best)"),
    prompt: str = Opt("", "--prompt", "-p", help="Text to continue (empty: start from a new line)"),
    n: int = Opt(1, "--n", "-n", help="Number of samples (generated together, as one batch)"),
    max_length: int = Opt(200, "--max-length", "-l", help="Units to generate at most (characters, or tokens for a token-level model)"),
    temperature: float = Opt(1.0, "--temperature", "-t", help="Sampling temperature; 0 = greedy"),
    top_k: Optional[int] = Opt(None, "--top-k", "-k", help="Sample from the k most likely units only"),
    top_p: Optional[float] = Opt(None, "--top-p", help="Nucleus sampling: the smallest set of units with this total probability, in (0, 1]"),
    seed: Optional[int] = Opt(None, "--seed", "-s", help="Random seed: same seed, same text"),
    stop: Optional[List[str]] = Opt(None, "--stop", help="Stop a sample before this string (repeatable; escapes such as \\n are understood)"),
    stream: bool = Opt(False, "--stream", help="Print the text as it is written (n must be 1)"),
    component: str = Opt("lstm_generator", "--component", "-C", help="Name of the generator component in the pipeline"),
    code_path: Optional[Path] = Opt(None, "--code", "-c", help="Path to Python file with additional code (registered functions) to be imported"),
    # fmt: on
):
    """
    Generate text with a trained lstm_generator pipeline. Prints each sample
    after the prompt; with --stream, prints one sample as it is written.
    """
    import spacy

    import_code(code_path)
    stops = [_unescape(s) for s in stop] if stop else None
    prompt = _unescape(prompt)
    try:
        nlp = spacy.load(model)
    except (OSError, ModelDataError, ValueError) as err:  # missing, corrupted, or a bad config
        msg.fail(f"Could not load the pipeline '{model}'", str(err), exits=1)
    if component not in nlp.pipe_names:
        msg.fail(f"The pipeline has no component '{component}'", f"Components: {', '.join(nlp.pipe_names)}", exits=1)
    gen = nlp.get_pipe(component)
    if not hasattr(gen, "generate"):
        msg.fail(f"The component '{component}' cannot generate text (it is a {type(gen).__name__})", exits=1)
    kwargs = dict(max_length=max_length, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed, stop=stops)
    try:
        if stream:
            if n != 1:
                raise ValueError("--stream writes one sample: use --n 1 with --stream")
            print(prompt, end="", flush=True)
            for piece in gen.generate_stream(prompt, **kwargs):
                print(piece, end="", flush=True)
            print()
            return
        texts = gen.generate(prompt, n=n, **kwargs)
    except (ValueError, RuntimeError) as err:
        msg.fail(str(err), exits=1)
        return
    for i, text in enumerate(texts, start=1):
        msg.divider(f"Sample {i}")
        print(prompt + text)


def _unescape(text: str) -> str:
    """Let shell users write --stop '\\n\\n' or --prompt 'A\\tB'."""
    return text.encode("latin-1", "backslashreplace").decode("unicode_escape") if "\\" in text else text


__all__ = ["generate_cli"]
