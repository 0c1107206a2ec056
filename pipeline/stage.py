"""What every stage entry point shares: quiet logs, one clear line on a user error or an
interrupt, never a traceback. Third-party noise is filtered here, at the edge."""

from __future__ import annotations

import logging
import os
import sys
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path

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


LOG_DIR = Path("logs")


def run_stage(main: Callable[[], None]) -> None:
    """Entry point wrapper for `python -m pipeline.<stage>`: a user error is one line; an
    unexpected fault is one line too, with the traceback kept in logs/<stage>-error.log."""
    quiet_third_parties()
    logging.basicConfig(level=logging.INFO, format="  %(message)s")
    stage = Path(sys.argv[0]).stem if sys.argv and sys.argv[0] else "stage"
    try:
        main()
    except ChurnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the edge: never a traceback on the terminal
        LOG_DIR.mkdir(exist_ok=True)
        log_file = LOG_DIR / f"{stage}-error.log"
        log_file.write_text(traceback.format_exc())
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        print(f"error: stage {stage} failed: {type(exc).__name__}: {first} (traceback in "
              f"{log_file})", file=sys.stderr)
        sys.exit(3)
