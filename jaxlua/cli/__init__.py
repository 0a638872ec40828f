"""Command-line layer above train/ and eval/: flags derived from the config, workdir rules, orchestration.

- `jaxlua.cli.flags`: `FlagError`, `fail`, flags derived from config fields (`define_flags_of`,
  `config_of_flags`; the TrainConfig flags) and absl parsing that reports a bad flag as one line with exit code 2.
  JAX-free.
- `jaxlua.cli.workdir`: workdir checks and the workdir lock (the files are named in `jaxlua.workdir_files`).
  JAX-free.
- `jaxlua.cli.experiment`: train then evaluate (`run_experiment`), loading a run for evaluation or prediction.
"""
