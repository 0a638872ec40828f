"""Command-line layer above train/ and eval/: flags derived from the config, workdir rules, orchestration.

- `jaxlua.cli.flags`: `FlagError`, `fail`, the TrainConfig flags (one per config field) and absl parsing that
  reports a bad flag as one line with exit code 2. JAX-free.
- `jaxlua.cli.workdir`: workdir checks, the workdir lock and the names of metrics files. JAX-free.
- `jaxlua.cli.experiment`: train then evaluate (`run_experiment`), loading a run for evaluation or prediction.
"""
