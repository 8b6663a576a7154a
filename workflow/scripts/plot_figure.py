"""Rule plot_figure: draw one figure from the result store and the stepsize selection."""

from script_logging import start_logging

logger = start_logging(snakemake)

import json  # noqa: E402
from pathlib import Path  # noqa: E402

from run_inputs import load_runs  # noqa: E402

from byzsim.figures import draw_figure, save_figure  # noqa: E402
from byzsim.selection import read_selection  # noqa: E402

settings = json.loads(snakemake.params.settings)
frame = load_runs(snakemake.input.runs)
selection = read_selection(snakemake.input.selection)
figure = draw_figure(
    frame,
    selection,
    kind=settings["kind"],
    x=settings["x"],
    y=settings["y"],
    dataset=settings["dataset"],
    title=settings["title"],
    normalize=settings["normalize"],
)
stem = Path(snakemake.output.pdf).with_suffix("")
written = save_figure(figure, stem)
logger.info("wrote %s", ", ".join(str(path) for path in written))
