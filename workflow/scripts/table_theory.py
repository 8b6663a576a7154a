"""Rule table_theory: Tables 1 (rates) and 3 (theoretical stepsizes) on one dataset."""

from script_logging import start_logging

logger = start_logging(snakemake)

from pathlib import Path  # noqa: E402

from byzsim.data import load_dataset  # noqa: E402
from byzsim.problems import split_heterogeneous  # noqa: E402
from byzsim.theory import write_theory_tables  # noqa: E402

params = snakemake.params
features, labels = load_dataset(params.dataset, data_dir=Path(snakemake.input[0]).parent,
                                registry=snakemake.config["datasets"])
# Table 3 is computed on the heterogeneous split: G = n - B consecutive shards.
shards, _ = split_heterogeneous(features, labels, params.n_workers - params.n_byzantine)
good_rows = shards.reshape(-1, shards.shape[-1])
out_dir = Path(snakemake.output.rates_csv).parent
written = write_theory_tables(out_dir, good_rows, shards, lam=params.lam,
                              n_workers=params.n_workers, n_byzantine=params.n_byzantine)
expected = {Path(path) for path in snakemake.output}
missing = expected - {Path(path) for path in written}
if missing:
    raise FileNotFoundError(f"byzsim.theory.write_theory_tables did not write {sorted(map(str, missing))}")
logger.info("wrote %s", ", ".join(str(path) for path in written))
