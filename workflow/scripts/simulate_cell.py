"""Rule simulate_<cell>: run all multipliers of one grid cell as one batch."""

import os

# One BLAS thread per job: the scheduler already runs one job per core.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, str(snakemake.threads))

from script_logging import start_logging  # noqa: E402

logger = start_logging(snakemake)

import json  # noqa: E402

import byzsim.config  # noqa: E402
from byzsim.simulate import run_batch_to_store  # noqa: E402

spec = json.loads(snakemake.params.spec)
paths = {float(multiplier): path for multiplier, path in json.loads(snakemake.params.paths).items()}
logger.info("run specification: %s", snakemake.params.spec)
run_batch_to_store(spec, paths, data_dir=snakemake.config["data"]["dir"],
                   mirror=byzsim.config.resolve_mirror(snakemake.config))
