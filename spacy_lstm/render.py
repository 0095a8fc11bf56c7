"""`render_explanations`: token attributions as HTML, the way `spacy.displacy.render` shows
entities and dependencies.

Each document is a block with its label and score in a header and its tokens tinted by the
sign and strength of their weight: blue towards the label, orange against it (a diverging
pair that stays distinct under the common colour-vision deficiencies), the weight on hover.
The HTML is self-contained (inline styles, no scripts, no external resources), the document
text is escaped, and long documents wrap.
"""
import html
from typing import Iterable, List, Optional, Sequence, Union

from spacy.tokens import Doc

from .textcat.explain import EXTENSION, Explanation

TOWARDS = (33, 102, 172)  # blue
AGAINST = (230, 97, 1)  # orange
MAX_ALPHA = 0.75

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
</head>
<body style="margin: 0; padding: 16px; background: #ffffff; font-family: -apple-system, BlinkMacSystemFont, 'Segoe UI', Helvetica, Arial, sans-serif;">
{body}
</body>
</html>
"""
BLOCK_STYLE = "max-width: 100%; box-sizing: border-box; margin: 0 0 1.5em 0; padding: 0.75em 1em; border: 1px solid #dddddd; border-radius: 4px; background: #ffffff;"
HEADER_STYLE = "font-size: 0.9em; color: #333333; margin-bottom: 0.5em;"
TEXT_STYLE = "font-size: 16px; line-height: 2.1; color: #111111; white-space: pre-wrap; overflow-wrap: anywhere; word-break: break-word;"
TOKEN_STYLE = "padding: 0.15em 0; border-radius: 3px; background: rgba({r}, {g}, {b}, {alpha:.3f});"


def _explanation_of(item: Union[Doc, Explanation]) -> Explanation:
    if isinstance(item, Explanation):
        return item
    if isinstance(item, Doc):
        explanation = item._.get(EXTENSION)
        if explanation is None:
            raise ValueError(
                "The doc has no explanation (doc._.lstm_explanation is None): call "
                "nlp.get_pipe('lstm_textcat').explain(docs) first, or set `explain = true` in "
                "the component's config."
            )
        return explanation
    raise TypeError(f"render_explanations takes Docs or Explanations, got {type(item).__name__}.")


def _token_html(text: str, weight: float, lstm: float, ngram: float, read: bool, scale: float) -> str:
    strength = min(1.0, abs(weight) / scale) if scale > 0 else 0.0
    r, g, b = TOWARDS if weight >= 0 else AGAINST
    style = TOKEN_STYLE.format(r=r, g=g, b=b, alpha=MAX_ALPHA * strength)
    title = f"{weight:+.4f} (LSTM {lstm:+.4f}, n-grams {ngram:+.4f})" + ("" if read else "; past max_length: n-grams only")
    return f'<span class="lstm-token" style="{style}" title="{html.escape(title)}">{html.escape(text)}</span>'


def render_explanation(explanation: Explanation, title: Optional[str] = None) -> str:
    """One document's block (see the module docstring); `title` goes before the label."""
    scale = max((abs(float(w)) for w in explanation.weights), default=0.0)
    tokens = []
    for i, token in enumerate(explanation.doc):
        tokens.append(
            _token_html(
                token.text, float(explanation.weights[i]), float(explanation.lstm_weights[i]),
                float(explanation.ngram_weights[i]), bool(explanation.read_by_lstm[i]), scale,
            )
        )
        tokens.append(html.escape(token.whitespace_))
    label = html.escape(explanation.label)
    header = (
        (f"<strong>{html.escape(title)}</strong> &middot; " if title else "")
        + f"predicted <strong>{label}</strong> ({explanation.score:.3f}) &middot; "
        + f'<span style="background: rgba({TOWARDS[0]}, {TOWARDS[1]}, {TOWARDS[2]}, 0.5); padding: 0 0.3em;">towards {label}</span> '
        + f'<span style="background: rgba({AGAINST[0]}, {AGAINST[1]}, {AGAINST[2]}, 0.5); padding: 0 0.3em;">against {label}</span>'
    )
    return (
        f'<div class="lstm-explanation" style="{BLOCK_STYLE}">'
        f'<div class="lstm-explanation-header" style="{HEADER_STYLE}">{header}</div>'
        f'<div class="lstm-explanation-text" style="{TEXT_STYLE}">{"".join(tokens)}</div></div>'
    )


def render_explanations(
    docs: Union[Doc, Explanation, Iterable[Union[Doc, Explanation]]],
    page: bool = False,
    jupyter: Optional[bool] = None,
    *,
    titles: Optional[Sequence[str]] = None,
    page_title: str = "Explanations",
) -> Optional[str]:
    """Render docs (with doc._.lstm_explanation set, e.g. by `textcat.explain(docs)`) or
    Explanations as HTML, as `spacy.displacy.render` does: a fragment, or with `page` a full
    page. `jupyter`: display in the notebook and return None (None: detect a notebook).
    `titles`: a heading per document (e.g. its id or gold label)."""
    if isinstance(docs, (Doc, Explanation)):
        docs = [docs]
    explanations: List[Explanation] = [_explanation_of(item) for item in docs]
    if titles is not None and len(titles) != len(explanations):
        raise ValueError(f"titles has {len(titles)} entries for {len(explanations)} documents: give one per document.")
    blocks = [render_explanation(e, None if titles is None else str(titles[i])) for i, e in enumerate(explanations)]
    markup = "\n".join(blocks)
    if page:
        markup = PAGE.format(title=html.escape(page_title), body=markup)
    if jupyter is None:
        from spacy.util import is_in_jupyter

        jupyter = is_in_jupyter()
    if jupyter:
        from IPython.display import HTML, display

        display(HTML(markup))
        return None
    return markup
