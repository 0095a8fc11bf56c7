"""The Keras 3 networks, written the way keras.io examples write them.

Every network takes right-padded int32 token ids (0 = padding) and returns logits; the
shim applies softmax/sigmoid. Networks are always rebuilt from the spaCy config and get
their weights as plain arrays, so none of these layers needs Keras serialisation.
"""
from .backend import keras

layers = keras.layers
ops = keras.ops

POOLINGS = ("last", "max", "mean", "max_mean", "attention")
NGRAM_PATHS = ("trained", "fitted")


class MaskedPooling(layers.Layer):
    """A reduction over the real (unmasked) time steps; the output has no time axis, so no mask."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        return None


class MaskedMaxPooling(MaskedPooling):
    """Max over the real time steps."""

    def call(self, inputs, mask=None):
        if mask is not None:
            inputs = ops.where(ops.expand_dims(mask, -1), inputs, ops.full_like(inputs, -1e9))
        return ops.max(inputs, axis=1)


class MaskedMeanPooling(MaskedPooling):
    """Mean over the real time steps."""

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.mean(inputs, axis=1)
        weights = ops.expand_dims(ops.cast(mask, inputs.dtype), -1)
        return ops.sum(inputs * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1.0)


class MaskedSumPooling(MaskedPooling):
    """Sum over the real time steps: a bag of n-grams' weights."""

    def call(self, inputs, mask=None):
        if mask is not None:
            inputs = inputs * ops.expand_dims(ops.cast(mask, inputs.dtype), -1)
        return ops.sum(inputs, axis=1)


class AttentionPooling(MaskedPooling):
    """Additive attention (Bahdanau-style) over time: a learned weighted average of the
    LSTM states, so a long review is summarised by the passages that decide its label."""

    def __init__(self, units: int = 64, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        dim = input_shape[-1]
        self.w = self.add_weight(name="w", shape=(dim, self.units), initializer="glorot_uniform")
        self.b = self.add_weight(name="b", shape=(self.units,), initializer="zeros")
        self.v = self.add_weight(name="v", shape=(self.units, 1), initializer="glorot_uniform")

    def attention_weights(self, inputs, mask=None):
        """[batch, time] weights of the states (they sum to 1 over the real steps)."""
        scores = ops.squeeze(ops.matmul(ops.tanh(ops.matmul(inputs, self.w) + self.b), self.v), -1)
        if mask is not None:
            scores = ops.where(mask, scores, ops.full_like(scores, -1e9))
        return ops.softmax(scores, axis=-1)

    def call(self, inputs, mask=None):
        weights = self.attention_weights(inputs, mask)
        return ops.sum(inputs * ops.expand_dims(weights, -1), axis=1)


def recurrent_stack(
    x,
    *,
    width: int,
    depth: int,
    bidirectional: bool,
    dropout: float,
    recurrent_dropout: float,
    return_sequences: bool,
):
    """`depth` LSTM layers; only the last one may drop its sequence output."""
    for i in range(depth):
        keep_sequence = return_sequences or i < depth - 1
        lstm = layers.LSTM(
            width,
            return_sequences=keep_sequence,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            name=f"lstm_{i}",
        )
        x = layers.Bidirectional(lstm, name=f"bilstm_{i}")(x) if bidirectional else lstm(x)
    return x


def build_text_classifier(
    *,
    vocab_size: int,
    n_labels: int,
    embedding_dim: int,
    lstm_width: int,
    lstm_depth: int,
    bidirectional: bool,
    dropout: float,
    recurrent_dropout: float,
    pooling: str,
    attention_width: int,
    hidden_width: int,
    trainable_embedding: bool = True,
    bow_length: int = 0,
    ngram_path: str = "trained",
) -> "keras.Model":
    """Embedding -> LSTM stack -> pooling -> (hidden Dense) -> logits.

    With bow_length > 0 the network is "wide and deep": a second input of hashed n-gram ids
    adds a linear bag-of-n-grams score per label to the LSTM's logits, so word-order-free
    evidence and the sequence model complement each other. ngram_path "trained": the n-gram
    weights start at zero and are learned jointly (spaCy's TextCatBOW inside the network);
    "fitted": they are set from outside (textcat/ngram_model.py) and frozen, and the LSTM's
    output layer starts at zero, so training starts exactly from the fitted n-gram model.
    """
    if ngram_path not in NGRAM_PATHS:
        raise ValueError(f"Unknown ngram_path '{ngram_path}'. Choose one of: {', '.join(NGRAM_PATHS)}.")
    fitted = bool(bow_length) and ngram_path == "fitted"
    if pooling not in POOLINGS:
        raise ValueError(f"Unknown pooling '{pooling}'. Choose one of: {', '.join(POOLINGS)}.")
    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    x = layers.Embedding(
        vocab_size, embedding_dim, mask_zero=True, trainable=trainable_embedding, name="embedding"
    )(token_ids)
    if dropout:
        x = layers.SpatialDropout1D(dropout, name="embedding_dropout")(x)
    x = recurrent_stack(
        x,
        width=lstm_width,
        depth=lstm_depth,
        bidirectional=bidirectional,
        dropout=0.0,
        recurrent_dropout=recurrent_dropout,
        return_sequences=pooling != "last",
    )
    if pooling == "max":
        x = MaskedMaxPooling(name="max_pool")(x)
    elif pooling == "mean":
        x = MaskedMeanPooling(name="mean_pool")(x)
    elif pooling == "max_mean":
        x = layers.Concatenate(name="max_mean_pool")(
            [MaskedMaxPooling(name="max_pool")(x), MaskedMeanPooling(name="mean_pool")(x)]
        )
    elif pooling == "attention":
        x = AttentionPooling(attention_width, name="attention_pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name="pooled_dropout")(x)
    if hidden_width:
        x = layers.Dense(hidden_width, activation="relu", name="hidden")(x)
        if dropout:
            x = layers.Dropout(dropout, name="hidden_dropout")(x)
    logits = layers.Dense(n_labels, kernel_initializer="zeros" if fitted else "glorot_uniform", name="logits")(x)
    if not bow_length:
        return keras.Model(token_ids, logits, name="lstm_textcat")
    ngram_ids = keras.Input(shape=(None,), dtype="int32", name="ngram_ids")
    bow = layers.Embedding(
        bow_length, n_labels, mask_zero=True, embeddings_initializer="zeros", trainable=not fitted, name="bow_weights"
    )(ngram_ids)
    logits = layers.Add(name="wide_and_deep")([logits, MaskedSumPooling(name="bow_sum")(bow)])
    return keras.Model([token_ids, ngram_ids], logits, name="lstm_textcat")


# --- language model (lstm_generator) ---------------------------------------------------------


def build_language_model(
    *,
    vocab_size: int,
    embedding_dim: int,
    lstm_width: int,
    lstm_depth: int,
    dropout: float,
    dtype_policy: str = "float32",
) -> "keras.Model":
    """Embedding -> LSTM x depth (full sequences) -> logits over the unit vocabulary, at every
    step: the next-unit model behind `lstm_generator`.

    No masking: training windows are right-padded only, so padding never feeds a real step
    (the loss gives padded targets weight 0). Generation runs the same LSTM cells one step at
    a time (generator/lm_shim.py), which is why the layer names are fixed. The LSTM layers
    also return their last states (unused here): stateful training and scoring call the layers
    one by one with carried `initial_state`s (lm_shim.py); the weights are the same either way.
    dtype_policy: the Keras policy of the embedding and LSTM layers (keras/precision.py); the
    logits are always float32.
    """
    unit_ids = keras.Input(shape=(None,), dtype="int32", name="unit_ids")
    x = layers.Embedding(vocab_size, embedding_dim, dtype=dtype_policy, name="embedding")(unit_ids)
    for i in range(lstm_depth):
        x, _, _ = layers.LSTM(lstm_width, return_sequences=True, return_state=True, dtype=dtype_policy, name=f"lstm_{i}")(x)
        if dropout:
            x = layers.Dropout(dropout, dtype=dtype_policy, name=f"lstm_{i}_dropout")(x)
    logits = layers.Dense(vocab_size, name="logits")(x)
    return keras.Model(unit_ids, logits, name="lstm_generator")
