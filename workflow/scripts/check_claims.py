"""Rule check_claims: measure the experimental claims of Rammal et al. (2024) on the result store."""

from script_logging import start_logging

logger = start_logging(snakemake)

import json  # noqa: E402
from pathlib import Path  # noqa: E402

from run_inputs import load_runs  # noqa: E402

from byzsim.claims import check_claims, paper_claims, write_claims  # noqa: E402
from byzsim.selection import read_selection  # noqa: E402

frame = load_runs(snakemake.input.runs)
selections = [read_selection(path) for path in snakemake.input.selections]
# Figure number -> (experiment, dataset), from the config's figure names figure<N>.
where = {int(number): tuple(value) for number, value in json.loads(snakemake.params.figures).items()}
result = check_claims(frame, selections, paper_claims(where))
written = write_claims(result, Path(snakemake.output.md).with_suffix(""))
counts = result["reproduced"].value_counts().to_dict()
logger.info("claims: %s; wrote %s", counts, ", ".join(str(path) for path in written))
