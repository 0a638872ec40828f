"""jaxlua: learned emulation of Lua execution with recurrent networks in JAX/Flax."""
from setuptools import find_packages, setup

setup(
    name="jaxlua",
    version="0.1.0",
    description="Train small recurrent networks to predict what a Lua program prints (JAX/Flax NNX).",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["jaxlua", "jaxlua.*", "kernels", "kernels.*", "experiments", "experiments.*"]),
    install_requires=[
        "numpy>=1.26",
        "jax>=0.7",
        "flax>=0.11",
        "optax>=0.2.5",
        "orbax-checkpoint>=0.11",
        "chex>=0.1.89",
        "absl-py>=2.1",
        "lupa>=2.2",
        "tree-sitter>=0.23",
        "tree-sitter-lua>=0.2",
        # Progress bars on long work (dataset builds, training): tqdm is the standard, tiny and dependency-free.
        "tqdm>=4.66",
        # TensorBoard event files without pulling TensorFlow in.
        "tensorboardX>=2.6",
    ],
    extras_require={
        # pytest-xdist: the suite is compile-bound and single-threaded per test; two workers halve it on 2 cores.
        # nbclient, nbformat, ipykernel, pandas, matplotlib: tests/test_notebooks.py executes the analysis notebook
        # end to end on a small fixture, so the suite needs a kernel and the notebook's own imports.
        "test": ["pytest>=8", "hypothesis>=6.100", "pytest-xdist>=3.5",
                 "nbclient>=0.10", "nbformat>=5.10", "ipykernel>=6.29", "pandas>=2.2", "matplotlib>=3.8"],
        "notebooks": ["jupyter", "matplotlib", "pandas"],
        "bench": ["torch", "mingru-pytorch"],
        "gpu": ["jax[cuda12]"],
    },
)
