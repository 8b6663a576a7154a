"""Rule table_datasets: Table 2 (dataset overview) from the loaded data."""

from script_logging import start_logging

logger = start_logging(snakemake)

from pathlib import Path  # noqa: E402

from byzsim.data import dataset_table  # noqa: E402
from byzsim.tables import write_table  # noqa: E402

frame = dataset_table(snakemake.params.datasets, data_dir=Path(snakemake.input[0]).parent,
                      registry=snakemake.config["datasets"])
stem = Path(snakemake.output.csv).with_suffix("")
write_table(frame, stem, caption="Table 2: the LibSVM datasets (Chang and Lin, 2011) used in "
                                 "the logistic regression experiments.")
logger.info("wrote %s.{csv,md,tex}", stem)
