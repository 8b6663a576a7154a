"""Rule simulate: run one job's specification and write its result file."""

import os

# One BLAS thread per job: the scheduler already runs one job per core.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, str(snakemake.threads))

from script_logging import start_logging  # noqa: E402

logger = start_logging(snakemake)

import json  # noqa: E402

import byzsim.config  # noqa: E402
from byzsim.simulate import run_spec_to_store  # noqa: E402

spec = json.loads(snakemake.params.spec)
logger.info("run specification: %s", snakemake.params.spec)
run_spec_to_store(spec, snakemake.output[0], data_dir=snakemake.config["data"]["dir"],
                  mirror=byzsim.config.resolve_mirror(snakemake.config))
