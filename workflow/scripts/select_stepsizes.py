"""Rule select_stepsizes: choose each cell's stepsize multiplier by the experiment's rule."""

from script_logging import start_logging

logger = start_logging(snakemake)

import json  # noqa: E402

from run_inputs import load_runs  # noqa: E402

from byzsim.selection import select_stepsizes, write_selection  # noqa: E402

frame = load_runs(snakemake.input)
rule = json.loads(snakemake.params.rule)
selection = select_stepsizes(frame, rule)
write_selection(selection, snakemake.output[0])
chosen = selection[selection["selected"]]
logger.info("selected %d of %d candidates by %s", len(chosen), len(selection), rule)
for row in chosen.itertuples(index=False):
    logger.info("%s/%s/%s/%s: multiplier %g (score %.4g)", row.dataset, row.method, row.attack,
                row.aggregator, row.multiplier, row.score)
