# Figures, drawn from the result store and the experiment's stepsize selection.


rule plot_figure:
    """Draw figures/<name>.pdf and .png from the runs and the selected stepsizes."""
    input:
        runs=lambda wildcards: figure_run_files(wildcards.figure),
        selection=lambda wildcards: f"results/selection/{FIGURES[wildcards.figure]['experiment']}.csv",
    output:
        pdf="figures/{figure}.pdf",
        png=report(
            "figures/{figure}.png",
            caption="../report/figure.rst",
            category="Figures",
            labels={"figure": "{figure}"},
        ),
    wildcard_constraints:
        figure=_alternatives(FIGURES),
    params:
        settings=figure_settings_json,
        caption=figure_caption,
    log:
        "logs/plot_figure/{figure}.log",
    benchmark:
        "logs/benchmarks/plot_figure/{figure}.tsv"
    script:
        "../scripts/plot_figure.py"
