"""Presets: named, validated configurations that scripts start from (`--preset NAME`) and tests compare to.

A preset is a plain config value; a flag left unset keeps the preset's value (jaxlua.cli.flags).
"""
from __future__ import annotations

from jaxlua.config.evaluation import EvalConfig
from jaxlua.config.model import ModelConfig
from jaxlua.config.training import TrainConfig

# The main job (README, "What the main job gives"): the default model (a 2-layer MinGRU, 128/256, batch 32, with
# program recall 64 wide) on fresh programs of the ladder (levels 0, 8), TinyPy (4-7) and the full constructs
# (1-3), for 450 s of wall clock, so that data, training and evaluation fit 10 minutes on a 2-core CPU. The
# mastery curriculum trains the ladder and TinyPy from the start, spends compute by error and admits levels 1-3 as
# the others are learned or stall. Chosen by experiments.bench_learning at equal wall-clock budgets
# (results/README.md, "Learning efficiency"). `--time_budget_s 0 --steps N` trains a step-exact run instead.
DEFAULT = TrainConfig(stream=True, levels="0,8,4,5,6,7,1,2,3", curriculum="mastery", mastery_start=6,
                      recall_dim=64, eval_interval=100, heldout_per_level=300, steps=100_000, time_budget_s=450.0)

# The same recipe for 20 minutes of training (within half an hour of a 2-core CPU, evaluation included).
LONG = DEFAULT.replace(time_budget_s=1200.0)

# One GPU hour, not yet run on a GPU: a wider, deeper hybrid (attention helps most
# per step in the study, and costs little on a GPU), batch 256, more generator processes.
GPU = DEFAULT.replace(time_budget_s=3600.0, batch_size=256, embed_dim=256, hidden_dim=1024, num_layers=4,
                      attention=True, num_heads=8, lr=1e-3, stream_workers=8, eval_interval=500)

# The dissertation's run (its section 5.4 and Table 4.1): one block, embedding 500, hidden 900, dropout 0.5,
# label smoothing 0.2, AdamW weight decay 1e-3, lr 9.9e-5, batch 128, 3000 iterations, reduce-on-plateau
# (factor 0.5, patience 10 validations). The cell follows ModelConfig.paper (mingru); --cell picks another.
PAPER = TrainConfig(
    model=ModelConfig.paper(vocab_size=0),
    label_smoothing=0.2,
    weight_decay=1e-3,
    lr=9.9e-5,
    batch_size=128,
    steps=3000,
    schedule="plateau",
    warmup_steps=0,
    plateau_factor=0.5,
    plateau_patience=10,
    eval_interval=50,
    checkpoint_interval=250,
    b2=0.999,
)

PRESETS: dict[str, TrainConfig] = {"default": DEFAULT, "paper": PAPER, "long": LONG, "gpu": GPU}

# What `experiments.evaluate` does unless told otherwise: pass@k from 10 samples per program, batches of 32, seed 0.
EVALUATE = EvalConfig(num_samples=10, batch_size=32, seed=0)
