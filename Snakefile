# Reproduce every figure and table of Rammal et al., "Communication Compression for
# Byzantine Robust Learning: New Efficient Algorithms and Improved Rates" (AISTATS 2024).
#
#   snakemake --cores all                  # everything (the default target reproduce_all)
#   snakemake --cores all figure2          # one figure and what it needs
#   snakemake --cores all --configfile config/quick.yaml   # small grids, a few minutes
#
# The experiments are declared in config/config.yaml and checked against
# workflow/schemas/config.schema.yaml by byzsim.config.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/selection.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/claims.smk"


# Target rules. They live in this file because Snakemake (9.x) takes the default target
# only from rules of the main Snakefile, never from an included one.
rule reproduce_all:
    """Every figure, table, stepsize selection and the claims check."""
    input:
        expand("figures/{figure}.{ext}", figure=list(FIGURES), ext=["pdf", "png"]),
        expand("results/tables/{stem}.{ext}", stem=TABLE_STEMS, ext=TABLE_FORMATS),
        expand("results/selection/{experiment}.csv", experiment=EXPERIMENTS),
        "results/claims.md",
        "results/claims.csv",
    default_target: True


rule all:
    """Alias of reproduce_all."""
    input:
        rules.reproduce_all.input,


rule figures:
    """Every figure of the config (figures/<name>.pdf and .png)."""
    input:
        expand("figures/{figure}.{ext}", figure=list(FIGURES), ext=["pdf", "png"]),


rule tables:
    """Tables 1-3 as CSV, Markdown and LaTeX (results/tables/)."""
    input:
        expand("results/tables/{stem}.{ext}", stem=TABLE_STEMS, ext=TABLE_FORMATS),


rule simulations:
    """Every simulation job of the config, without selection, figures or tables."""
    input:
        list(RUN_FILES.values()),


# One target rule per figure, named like the figure (figure1 ... figure8 in the paper config).
for _figure in FIGURES:

    rule:
        name:
            _figure
        input:
            f"figures/{_figure}.pdf",
            f"figures/{_figure}.png",
