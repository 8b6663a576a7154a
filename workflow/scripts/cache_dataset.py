"""Rule cache_dataset: parse a downloaded LibSVM file into its .npz cache."""

from script_logging import start_logging

logger = start_logging(snakemake)

from pathlib import Path  # noqa: E402

from byzsim.data import load_dataset  # noqa: E402

name = snakemake.wildcards.dataset
features, labels = load_dataset(name, data_dir=Path(snakemake.input[0]).parent, mirror=None,
                                registry=snakemake.config["datasets"])
if not Path(snakemake.output[0]).exists():
    raise FileNotFoundError(f"byzsim.data.load_dataset did not write the cache {snakemake.output[0]}")
logger.info("%s: %d samples, %d features", name, *features.shape)
