"""The PyTorch side of experiments/bench_train_step.py: the same network, loss and optimizer, eager.

`torch.nn.RNN/LSTM/GRU` for the classic cells and the `mingru-pytorch` package's `minGRU`/`minLSTM` for the
minimal cells, layer for layer as jaxlua's LanguageModel (Embedding -> Dropout -> LayerNorm -> cell -> Dropout
-> LayerNorm -> Linear head), the same masked label-smoothed cross-entropy on the same head positions, clipping
and AdamW (weight decay on matrices only). torch is optional (the `bench` extra): nothing here imports it at
module level, and `torch_available()` says why it cannot run.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

TORCH_MISSING = (
    "PyTorch is not installed: the PyTorch side of this benchmark needs the `bench` extra "
    "(pip install -e '.[bench]', i.e. torch and mingru-pytorch)"
)
CLASSIC_MODULES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}  # jaxlua cell -> torch.nn class
MIN_MODULES = {"mingru": "minGRU", "minlstm": "minLSTM"}  # jaxlua cell -> minGRU_pytorch class


def torch_step(
    cell: str, sizes: Any, config: Any, tokens: np.ndarray, index: np.ndarray, weights: np.ndarray, device: str,
) -> tuple[Callable[[], float], int, str]:
    """(run one eager training step and return its loss, number of parameters, the network's layers).

    `sizes` has vocab, embed, hidden and seed; `config` the TrainConfig (its model's dropout, AdamW, label
    smoothing, clipping); `tokens` int [B, T+1]; `index` int64 [B, W] the head positions and `weights` float
    [B, W] the loss weight at each (0 past a row's window).
    """
    import torch
    from torch import nn
    import torch.nn.functional as F

    torch.manual_seed(sizes.seed)
    model = TorchLanguageModel(cell, sizes.vocab, sizes.embed, sizes.hidden, config.model.dropout).to(device)
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.lr,
        betas=(config.b1, config.b2),
    )
    tokens = torch.from_numpy(tokens).long().to(device)
    inputs = tokens[:, :-1]
    targets = tokens[:, 1:].gather(1, torch.from_numpy(index).to(device)).reshape(-1)
    weights = torch.from_numpy(weights.astype(np.float32)).reshape(-1).to(device)
    position_index = torch.from_numpy(index).to(device)
    denom = weights.sum().clamp_min(1.0)
    model.train()

    def run() -> float:
        optimizer.zero_grad(set_to_none=True)
        logits = model(inputs, position_index)
        token_loss = F.cross_entropy(
            logits.reshape(-1, sizes.vocab), targets, reduction="none", label_smoothing=config.label_smoothing
        )
        loss = (token_loss * weights).sum() / denom
        loss.backward()
        if config.clip_norm > 0:
            nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm)
        optimizer.step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return float(loss.detach())

    n_params = sum(p.numel() for p in model.parameters())
    return run, n_params, model.mapping


def torch_cell(cell: str, embed: int, hidden: int):
    """(module mapping [B,T,embed] -> [B,T,hidden], description of the exact PyTorch module used)."""
    from torch import nn

    if cell in CLASSIC_MODULES:
        cls = getattr(nn, CLASSIC_MODULES[cell])
        return cls(embed, hidden, batch_first=True), f"torch.nn.{cls.__name__}({embed}, {hidden}, batch_first=True)"
    from minGRU_pytorch import minGRU
    from minGRU_pytorch.minLSTM import minLSTM

    cls = {"minGRU": minGRU, "minLSTM": minLSTM}[MIN_MODULES[cell]]
    module = cls(embed, expansion_factor=hidden / embed, proj_out=False)
    inner = module.to_out.in_features if hasattr(module.to_out, "in_features") else None
    width = (module.to_hidden_and_gate if cell == "mingru" else module.to_hidden_and_f_i_gate).out_features
    gates = 2 if cell == "mingru" else 3
    if width != gates * hidden or inner is not None:
        raise RuntimeError(f"minGRU_pytorch gave inner width {width // gates}, expected {hidden}")
    return module, (
        f"minGRU_pytorch.{cls.__name__}({embed}, expansion_factor={hidden}/{embed}, proj_out=False): "
        f"inner width {hidden} fed straight to the head like jaxlua's cell output (proj_out=True would "
        f"add a {hidden}->{embed} projection jaxlua does not have); its parallel (seq_len > 1) path, "
        "the Heinsen log-space scan; no biases"
    )


@functools.cache
def _torch_module_class():
    from torch import nn

    class _TorchLanguageModel(nn.Module):
        """The jaxlua LanguageModel's layers in PyTorch (one block, first block without residual)."""

        def __init__(self, cell: str, vocab: int, embed: int, hidden: int, dropout: float) -> None:
            super().__init__()
            self.embed = nn.Embedding(vocab, embed)
            self.drop = nn.Dropout(dropout)
            self.norm_in = nn.LayerNorm(embed)
            self.cell, cell_text = torch_cell(cell, embed, hidden)
            self.classic = cell in CLASSIC_MODULES
            self.norm_out = nn.LayerNorm(hidden)
            self.head = nn.Linear(hidden, vocab)
            self.mapping = (
                f"Embedding({vocab}, {embed}) -> Dropout({dropout}) -> LayerNorm({embed}) -> {cell_text} -> "
                f"Dropout({dropout}) -> LayerNorm({hidden}) -> Linear({hidden}, {vocab})"
            )

        def forward(self, tokens, positions=None):
            """Logits [B, T, V], or [B, W, V] at `positions` (int64 [B, W]) only."""
            x = self.norm_in(self.drop(self.embed(tokens)))
            y = self.cell(x)
            y = self.drop(y[0] if self.classic else y)
            if positions is not None:
                y = y.gather(1, positions[..., None].expand(-1, -1, y.shape[-1]))
            return self.head(self.norm_out(y))

    return _TorchLanguageModel


def TorchLanguageModel(*args, **kwargs):  # pylint: disable=invalid-name
    """Builds the PyTorch mirror of the jaxlua model (the class is defined lazily: torch is optional)."""
    return _torch_module_class()(*args, **kwargs)


def torch_available() -> str | None:
    """None if torch and mingru-pytorch import, else the reason."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return TORCH_MISSING
    try:
        import minGRU_pytorch  # noqa: F401
    except ImportError:
        return "mingru-pytorch is not installed (pip install mingru-pytorch): the minimal cells have no PyTorch side"
    return None


def has_mirror(cell: str) -> bool:
    """Whether `cell` has a PyTorch counterpart here (a newly registered cell may not)."""
    return cell in CLASSIC_MODULES or cell in MIN_MODULES


def torch_environment(device: str) -> dict[str, Any]:
    """torch's version, device and threads, and mingru-pytorch's version, for the result's environment."""
    import torch

    env: dict[str, Any] = {"torch": torch.__version__, "torch_device": device,
                           "torch_num_threads": torch.get_num_threads()}
    try:
        from importlib.metadata import version

        env["mingru_pytorch"] = version("mingru-pytorch")
    except Exception:  # pylint: disable=broad-except
        env["mingru_pytorch"] = None
    return env


def torch_matmul(a: np.ndarray, b: np.ndarray, device: str) -> Callable[[], Any]:
    """A call computing `a @ b` in torch on `device` and waiting for it (for `bench_common.time_call`)."""
    import torch

    ta, tb = torch.from_numpy(a).to(device), torch.from_numpy(b).to(device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    return lambda: (torch.mm(ta, tb), sync())


def pick_device(prefer_gpu: bool) -> str:
    """"cuda" when JAX runs on a GPU and torch sees one, else "cpu"."""
    import torch

    return "cuda" if prefer_gpu and torch.cuda.is_available() else "cpu"
