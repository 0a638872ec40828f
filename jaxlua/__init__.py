"""jaxlua: a learned, fast emulator of Lua execution (JAX/Flax NNX).

Subpackages: lua (sandbox and generator), data (datasets), tokenize (semantic tokens),
models (cells and language models), train (loop and checkpoints), eval (decoding and metrics).
The NumPy side (lua, data, tokenize, eval.metrics) imports no JAX.
"""
__version__ = "0.1.0"
