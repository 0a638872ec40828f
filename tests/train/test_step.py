"""The train step: loss masking, every parameter trained, determinism, and the NaN stop."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxlua.train.batching import Arrays, make_batch
from jaxlua.train.config import TrainConfig
from jaxlua.train.loop import TrainingDivergedError, train
from jaxlua.train.model_state import build_model, initial_train_state
from jaxlua.train.optimizer import make_optimizer
from jaxlua.train.step import (
    loss_window_positions,
    make_train_step,
    output_span,
    shifted,
    token_losses,
)
from tests.train.synthetic import VOCAB_SIZE, toy_dataset


def test_loss_mask_covers_output_tokens_through_eos():
    # BOS p p SEP o o EOS PAD: output_start = 4, length = 7.
    batch = {"tokens": jnp.array([[1, 5, 6, 2, 7, 8, 3, 0]]), "lengths": jnp.array([7]), "output_start": jnp.array([4])}
    inputs, targets, input_mask, loss_mask = shifted(batch, include_program=False)
    np.testing.assert_array_equal(inputs[0], [1, 5, 6, 2, 7, 8, 3])
    np.testing.assert_array_equal(targets[0], [5, 6, 2, 7, 8, 3, 0])
    np.testing.assert_array_equal(loss_mask[0], [0, 0, 0, 1, 1, 1, 0])  # targets 7, 8, EOS
    np.testing.assert_array_equal(input_mask[0], [1, 1, 1, 1, 1, 1, 1])  # EOS is a valid input
    _, _, _, with_program = shifted(batch, include_program=True)
    np.testing.assert_array_equal(with_program[0], [1, 1, 1, 1, 1, 1, 0])  # program, SEP, output; never PAD
    empty = {"tokens": jnp.zeros((1, 8), jnp.int32), "lengths": jnp.array([0]), "output_start": jnp.array([0])}
    assert not shifted(empty, include_program=True)[3].any()


def test_label_smoothing_matches_optax_definition():
    logits = jnp.array([[[2.0, 0.5, -1.0]]])
    smoothed, nll = token_losses(logits, jnp.array([[0]]), 0.3)
    log_p = jax.nn.log_softmax(logits[0, 0])
    expected = -((0.7 + 0.1) * log_p[0] + 0.1 * log_p[1] + 0.1 * log_p[2])
    np.testing.assert_allclose(smoothed[0, 0], expected, rtol=1e-6)
    np.testing.assert_allclose(nll[0, 0], -log_p[0], rtol=1e-6)


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.5])
def test_closed_form_losses_equal_optax_smoothed_cross_entropy(smoothing):
    """token_losses avoids the [B,T,V] one-hot; it must still be optax's smoothed CE, value and gradient."""
    vocab = 331
    logits = 4.0 * jax.random.normal(jax.random.key(0), (3, 7, vocab))
    targets = jax.random.randint(jax.random.key(1), (3, 7), 0, vocab)
    weights = jax.random.uniform(jax.random.key(2), (3, 7))

    def reference(z):
        labels = optax.smooth_labels(jax.nn.one_hot(targets, vocab), smoothing)
        return optax.softmax_cross_entropy(z, labels)

    smoothed, nll = token_losses(logits, targets, smoothing)
    np.testing.assert_allclose(smoothed, reference(logits), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(
        nll, optax.softmax_cross_entropy_with_integer_labels(logits, targets), rtol=1e-6, atol=1e-6
    )
    grad = jax.grad(lambda z: (token_losses(z, targets, smoothing)[0] * weights).sum())(logits)
    np.testing.assert_allclose(grad, jax.grad(lambda z: (reference(z) * weights).sum())(logits), atol=1e-6)


def _one_step(config: TrainConfig):
    state, graphs = initial_train_state(build_model(config, VOCAB_SIZE), config)
    before = jax.tree.map(np.asarray, state.params)
    step = make_train_step(graphs.train_def, make_optimizer(config), config)
    batch = make_batch(Arrays.from_encoded(toy_dataset(8, seed=0)), np.arange(8), 24)
    state, metrics = step(state, batch, jax.random.key(0))
    return before, state, metrics


def test_every_parameter_changes_after_one_step():
    # Attention and dense MoE on, so embedding, cell, attention, experts, gate and head are all present.
    config = TrainConfig(
        cell="gru",
        embed_dim=16,
        hidden_dim=32,
        num_layers=1,
        num_experts=2,
        attention=True,
        num_heads=2,
        dropout=0.1,
        steps=10,
        warmup_steps=0,
        lr=1e-2,
        max_len=24,
    )
    before, state, metrics = _one_step(config)
    assert np.isfinite(float(metrics["loss"])) and int(state.step) == 1
    paths = jax.tree_util.tree_leaves_with_path(before)
    after = jax.tree.leaves(state.params)
    assert len(paths) == len(after) > 4
    unchanged = [jax.tree_util.keystr(p) for (p, old), new in zip(paths, after) if np.array_equal(old, np.asarray(new))]
    assert not unchanged, f"parameters not trained: {unchanged}"


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    # An absurd learning rate without clipping blows the parameters up after the first update.
    config = TrainConfig(
        cell="gru",
        embed_dim=8,
        hidden_dim=8,
        num_layers=1,
        dropout=0.0,
        batch_size=8,
        steps=6,
        lr=1e30,
        clip_norm=0.0,
        warmup_steps=0,
        checkpoint_interval=1,
        log_interval=1,
        eval_interval=100,
        max_len=24,
        num_buckets=1,
    )
    data = toy_dataset(8, seed=0)
    with pytest.raises(
        TrainingDivergedError, match=r"loss became (nan|inf) at step 2.*last good checkpoint \(step 1\)"
    ):
        train(config, tmp_path, data, data, vocab_size=VOCAB_SIZE, progress=False)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["1"]


def test_output_span_is_the_longest_output_and_ignores_empty_rows():
    # Shifted positions read by row b's loss: output_start-1 .. length-2, i.e. length - output_start of them.
    assert output_span(np.array([7, 10, 0]), np.array([4, 3, 0])) == 7
    assert output_span(np.array([0, 0]), np.array([0, 0])) == 1
    index, in_range = loss_window_positions({"output_start": jnp.array([4, 7])}, 3, 7)
    np.testing.assert_array_equal(index, [[3, 4, 5], [6, 6, 6]])
    np.testing.assert_array_equal(in_range, [[1, 1, 1], [1, 0, 0]])


def _step_metrics_and_params(config: TrainConfig, batch, loss_window):
    state, graphs = initial_train_state(build_model(config, VOCAB_SIZE), config)
    step = make_train_step(graphs.train_def, make_optimizer(config), config, loss_window=loss_window)
    state, metrics = step(state, batch, jax.random.key(0))
    return jax.device_get(metrics), jax.device_get(state.params)


@pytest.mark.parametrize("cell", ["mingru", "transformer"])
def test_loss_window_gives_the_full_width_loss_and_update(cell):
    """The head on `output_span` positions per row is the same loss and update as the head on all of them."""
    config = TrainConfig(cell=cell, embed_dim=16, hidden_dim=16, num_layers=1, num_heads=2, dropout=0.1,
                         steps=10, warmup_steps=0, lr=1e-2, max_len=24)
    data = Arrays.from_encoded(toy_dataset(8, seed=1))
    batch = make_batch(data, np.arange(8), 24)
    span = output_span(batch["lengths"], batch["output_start"])
    assert span < 23  # the window really is narrower than the sequence
    full, full_params = _step_metrics_and_params(config, batch, None)
    windowed, windowed_params = _step_metrics_and_params(config, batch, span)
    assert windowed["tokens"] == full["tokens"] > 0
    for name in ("loss", "nll", "accuracy", "grad_norm"):
        np.testing.assert_allclose(windowed[name], full[name], rtol=1e-5, err_msg=name)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), windowed_params, full_params)
    # A window shorter than the longest output scores fewer tokens: the span is what makes it exact.
    short, _ = _step_metrics_and_params(config, batch, span - 1)
    assert short["tokens"] < full["tokens"]
    with pytest.raises(ValueError, match="loss_window"):
        make_train_step(None, make_optimizer(config), config, loss_window=0)


def test_loss_window_is_ignored_when_the_program_is_scored_too():
    config = TrainConfig(cell="gru", embed_dim=8, hidden_dim=8, num_layers=1, dropout=0.0, steps=10,
                         warmup_steps=0, max_len=24, include_program_loss=True)
    batch = make_batch(Arrays.from_encoded(toy_dataset(8, seed=2)), np.arange(8), 24)
    full, _ = _step_metrics_and_params(config, batch, None)
    windowed, _ = _step_metrics_and_params(config, batch, 2)
    assert windowed["tokens"] == full["tokens"]
    np.testing.assert_allclose(windowed["loss"], full["loss"], rtol=1e-6)
