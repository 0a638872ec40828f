"""Tokenization of Lua programs, their outputs and execution traces (pure Python + NumPy; no JAX import).

`Tokenizer(mode, identifiers, digits)` ("semantic" / "names" / "msd" by default) -> token lists;
`render_program` turns semantic tokens back into Lua; `Vocabulary` maps tokens to ids; `encode_dataset`
builds the trainer's int32 arrays; `split_target` separates a predicted trace from the output.
"""
from jaxlua.tokenize.encode import TARGETS, EncodedDataset, encode_dataset
from jaxlua.tokenize.errors import LuaSyntaxError
from jaxlua.tokenize.render import render_program
from jaxlua.tokenize.throughput import tokenization_throughput
from jaxlua.tokenize.tokenizer import MODES, SETTINGS_KEYS, Tokenizer
from jaxlua.tokenize.trace_tokens import split_target
from jaxlua.tokenize.vocabulary import (BOS, EOS, OUT, PAD, SEP, SPECIAL_TOKENS, STEP, TRACE_CUT, TRACE_TOKENS, UNK,
                                        Vocabulary)

__all__ = [
    "BOS", "EOS", "EncodedDataset", "LuaSyntaxError", "MODES", "OUT", "PAD", "SEP", "SETTINGS_KEYS",
    "SPECIAL_TOKENS", "STEP", "TARGETS", "TRACE_CUT", "TRACE_TOKENS", "Tokenizer", "UNK", "Vocabulary",
    "encode_dataset", "render_program", "split_target", "tokenization_throughput",
]
