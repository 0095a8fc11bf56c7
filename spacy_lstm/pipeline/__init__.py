"""Deprecated: the components moved to `spacy_lstm.textcat.component` and
`spacy_lstm.generator.component`; `spacy_lstm.pipeline.textcat` / `.generator` re-export them
for one release."""
