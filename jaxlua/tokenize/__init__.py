"""Tokenization of Lua programs and their outputs (pure Python + NumPy; no JAX import).

`Tokenizer(mode)` ("semantic" default, "paper", "chars") -> token lists; `render_program` turns semantic
tokens back into Lua; `Vocabulary` maps tokens to ids; `encode_dataset` builds the trainer's int32 arrays.
"""
from jaxlua.tokenize.encode import EncodedDataset, encode_dataset
from jaxlua.tokenize.errors import LuaSyntaxError
from jaxlua.tokenize.render import render_program
from jaxlua.tokenize.throughput import tokenization_throughput
from jaxlua.tokenize.tokenizer import MODES, Tokenizer
from jaxlua.tokenize.vocabulary import BOS, EOS, PAD, SEP, SPECIAL_TOKENS, UNK, Vocabulary

__all__ = [
    "BOS", "EOS", "EncodedDataset", "LuaSyntaxError", "MODES", "PAD", "SEP", "SPECIAL_TOKENS", "Tokenizer",
    "UNK", "Vocabulary", "encode_dataset", "render_program", "tokenization_throughput",
]
