"""What every stage entry point shares: quiet logs, one clear line on a user error or an
interrupt, never a traceback. Third-party noise is filtered here, at the edge."""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Callable

from common.errors import ChurnError

#: libraries whose warnings and info logs say nothing a shop's analyst can act on
NOISY = ("pytensor", "arviz", "pymc", "pymc_marketing", "mlflow", "alembic", "optuna",
         "lightgbm", "sklearn", "urllib3", "git", "numba", "py4j", "pyspark", "matplotlib")


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


def run_stage(main: Callable[[], None]) -> None:
    """Entry point wrapper for `python -m pipeline.<stage>`."""
    quiet_third_parties()
    logging.basicConfig(level=logging.INFO, format="  %(message)s")
    try:
        main()
    except ChurnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
