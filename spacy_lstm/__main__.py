"""``python -m spacy_lstm classify|generate|explain ...`` and the ``spacy-lstm`` console script: the same
commands, with the same options, as ``spacy lstm-classify`` and ``spacy lstm-generate``."""
import typer

from .cli.classify import classify_cli
from .cli.explain import explain_cli
from .cli.generate import generate_cli

app = typer.Typer(name="spacy_lstm", help="spacy-lstm command-line interface", rich_markup_mode=None)


@app.callback()
def _main() -> None:
    """spacy-lstm command-line interface."""


app.command(
    "classify",
    context_settings={"allow_extra_args": False, "ignore_unknown_options": False},
)(classify_cli)
app.command("generate")(generate_cli)
app.command("explain")(explain_cli)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
