"""Every cell overfits a 32-program dataset to 100% exact match under greedy decoding.

End to end through the public path: the training loop, the best checkpoint reloaded with
`load_for_inference`, and jaxlua.eval's jit greedy decoder (prefill + decode_step).
"""

from __future__ import annotations

import numpy as np
import pytest

from jaxlua.eval.decode import Decoder, decode_rows
from jaxlua.config import model_names
from jaxlua.tokenize import SPECIAL_TOKENS, Vocabulary
from jaxlua.train.checkpoint import load_for_inference
from jaxlua.train.config import TrainConfig
from jaxlua.train.loop import train
from tests.train.synthetic import VOCAB_SIZE, toy_dataset

CELLS = model_names()


@pytest.mark.parametrize("cell", CELLS)
def test_cell_overfits_32_programs(cell, tmp_path):
    data = toy_dataset(32, seed=0)
    vocab = Vocabulary(list(SPECIAL_TOKENS) + [str(d) for d in range(10)])
    assert len(vocab) == VOCAB_SIZE
    config = TrainConfig(
        cell=cell,
        embed_dim=32,
        hidden_dim=64,
        num_layers=1,
        num_heads=2,
        dropout=0.0,
        batch_size=32,
        steps=120,
        lr=1e-2,
        warmup_steps=10,
        label_smoothing=0.0,
        weight_decay=0.0,
        eval_interval=40,
        checkpoint_interval=120,
        log_interval=40,
        max_len=24,
        num_buckets=1,
    )
    result = train(config, tmp_path, data, data, vocab=vocab, progress=False)
    assert result.history[-1]["val_exact_match"] == 1.0, result.history

    model, loaded_config, loaded_vocab, tokenizer = load_for_inference(tmp_path)
    assert loaded_config == config and loaded_vocab == vocab and tokenizer.mode == config.tokenizer.mode
    decoder = Decoder(model, eos_id=vocab.eos_id, pad_id=vocab.pad_id, max_len=24)
    predicted = decode_rows(decoder, data.tokens, data.output_start, np.arange(32), batch_size=32, max_new_tokens=8)
    expected = [data.tokens[i, data.output_start[i] : data.lengths[i] - 1].tolist() for i in range(32)]
    exact = np.mean([p == e for p, e in zip(predicted, expected)])
    assert exact == 1.0, f"{cell}: greedy exact match {exact:.3f}"
