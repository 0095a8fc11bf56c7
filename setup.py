"""spacy-lstm: Keras 3 LSTM text classifiers and text generators as spaCy v3 components.

Everything spaCy needs is registered through entry points below, so a user never has to
``import spacy_lstm`` or pass ``-c code.py``: installing the package is enough.
"""
from setuptools import find_packages, setup

ENTRY_POINTS = {
    "spacy_factories": [
        "lstm_textcat = spacy_lstm.textcat.component:make_lstm_textcat",
        "lstm_textcat_multilabel = spacy_lstm.textcat.component:make_lstm_textcat_multilabel",
        "lstm_generator = spacy_lstm.generator.component:make_lstm_generator",
    ],
    "spacy_architectures": [
        "spacy_lstm.LSTMTextCat.v1 = spacy_lstm.textcat.architecture:build_lstm_textcat",
        "spacy_lstm.LSTMTextCat.v2 = spacy_lstm.textcat.architecture:build_lstm_textcat_v2",
        "spacy_lstm.LSTMGenerator.v1 = spacy_lstm.generator.architecture:build_lstm_generator",
        "spacy_lstm.LSTMGenerator.v2 = spacy_lstm.generator.architecture:build_lstm_generator_v2",
    ],
    "spacy_readers": [
        "spacy_lstm.PlainTextCorpus.v1 = spacy_lstm.generator.reader:PlainTextCorpus",
        "spacy_lstm.PlainTextStreams.v1 = spacy_lstm.generator.streams:PlainTextStreams",
    ],
    "spacy_misc": [
        "spacy_lstm.truncated_length.v1 = spacy_lstm.textcat.architecture:make_truncated_length",
    ],
    "spacy_scorers": [
        "spacy_lstm.language_model_scorer.v1 = spacy_lstm.generator.component:make_language_model_scorer",
    ],
    "thinc_schedules": [
        "spacy_lstm.decay_at_end.v1 = spacy_lstm.schedules:decay_at_end",
    ],
    "spacy_cli": [
        "lstm-generate = spacy_lstm.cli.generate:generate_cli",
        "lstm-classify = spacy_lstm.cli.classify:classify_cli",
        "lstm-explain = spacy_lstm.cli.explain:explain_cli",
    ],
    "console_scripts": ["spacy-lstm = spacy_lstm.__main__:main"],
}

setup(
    name="spacy-lstm",
    version="0.1.0",
    description="Keras 3 LSTM text classification and text generation components for spaCy v3",
    long_description=open("README.md", encoding="utf8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["spacy_lstm", "spacy_lstm.*"]),
    python_requires=">=3.10",
    install_requires=[
        "spacy>=3.8.0,<3.9.0",
        "thinc>=8.3.0,<8.4.0",
        "tensorflow>=2.16",  # 2.16 is the first release whose tf.keras is Keras 3
        "keras>=3.0",
        "numpy>=1.23",
        "srsly>=2.4",
        "tqdm>=4.60",
        "threadpoolctl>=3.0",
        "scikit-learn>=1.2",  # liblinear fits the n-gram path of spacy_lstm.LSTMTextCat.v2
    ],
    extras_require={
        "ray": ["ray[data]>=2.9"],
        "project": ["matplotlib>=3.5"],
        "test": ["pytest>=7", "pytest-xdist>=3", "hypothesis"],  # hypothesis: spaCy's tests/conftest.py (tests/test_spacy_suite.py); xdist: two test files at once
    },
    entry_points=ENTRY_POINTS,
    include_package_data=True,
    zip_safe=False,
)
