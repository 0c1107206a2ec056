"""The one shell every DVC stage runs in: paths and params in, the stage's pure work, outputs
written atomically out (pipeline/io.py), quiet logs, and one clear line on a user error or an
interrupt, never a traceback.

A stage module defines `main(stage: Stage) -> None` and ends with `run_stage(main)`. Its paths
come from paths.yaml; dvc.yaml passes the same ones on the command line (`--features
data/features.parquet`), so what a stage reads and writes is visible in the DAG.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import cached_property
from pathlib import Path

from common.errors import ChurnError
from common.params import Params, load_params
from pipeline.paths import Paths, load_paths
from pipeline.runinfo import RunInfo, read_run_info

#: libraries whose warnings and info logs say nothing a shop's analyst can act on
NOISY = ("pytensor", "arviz", "pymc", "pymc_marketing", "mlflow", "alembic", "optuna",
         "lightgbm", "sklearn", "urllib3", "git", "numba", "py4j", "pyspark", "matplotlib")
LOG_DIR = Path("logs")


def quiet_third_parties() -> None:
    """Silence third-party warnings and chatter; our own log lines stay."""
    # PyTensor warns about a missing BLAS at import unless told not to look for one
    os.environ.setdefault("PYTENSOR_FLAGS", "blas__ldflags=,cxx=")
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    for name in NOISY:
        warnings.filterwarnings("ignore", module=f"{name}(\\.|$)")
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)


@dataclass(frozen=True)
class Stage:
    """What a stage is given: its name, the project's paths and the run's params."""
    name: str
    paths: Paths
    params: Params

    @cached_property
    def run(self) -> RunInfo:
        """This run's input, as_of and horizon, fixed by ingest (data/canonical/run.json)."""
        return read_run_info(self.paths.canonical)


def parse_args(name: str, argv: list[str] | None = None) -> Stage:
    parser = argparse.ArgumentParser(prog=f"python -m pipeline.stages.{name}")
    parser.add_argument("--params", default="params.yaml")
    for f in fields(Paths):
        parser.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, default=None)
    args = vars(parser.parse_args(argv))
    params_file = args.pop("params")
    return Stage(name, load_paths(**args), load_params(params_file))


def run_stage(main: Callable[[Stage], None], argv: list[str] | None = None) -> None:
    """Entry point of `python -m pipeline.stages.<name>`: a user error is one line; an
    unexpected fault is one line too, with the traceback kept in logs/<stage>-error.log."""
    quiet_third_parties()
    logging.basicConfig(level=logging.INFO, format="  %(message)s")
    name = Path(sys.argv[0]).stem if sys.argv and sys.argv[0] else "stage"
    try:
        main(parse_args(name, argv))
    except ChurnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the edge: never a traceback on the terminal
        LOG_DIR.mkdir(exist_ok=True)
        log_file = LOG_DIR / f"{name}-error.log"
        log_file.write_text(traceback.format_exc())
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        print(f"error: stage {name} failed: {type(exc).__name__}: {first} (traceback in "
              f"{log_file})", file=sys.stderr)
        sys.exit(3)
