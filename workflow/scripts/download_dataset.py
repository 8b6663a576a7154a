"""Rule download_dataset: fetch one LibSVM dataset into the data folder."""

from script_logging import start_logging

logger = start_logging(snakemake)

from pathlib import Path  # noqa: E402

import byzsim.config  # noqa: E402
from byzsim.data import fetch_dataset  # noqa: E402

name = snakemake.wildcards.dataset
mirror = byzsim.config.resolve_mirror(snakemake.config)
logger.info("fetching %s from %s", name, mirror or "the upstream LibSVM site")
path = fetch_dataset(name, Path(snakemake.output[0]).parent, mirror=mirror,
                     registry=snakemake.config["datasets"])
logger.info("%s is at %s", name, path)
