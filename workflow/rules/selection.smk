# Stepsize selection: per (dataset, method, attack, aggregator), the best multiplier.


rule select_stepsizes:
    """Score every multiplier of an experiment by its selection rule and mark the best."""
    input:
        lambda wildcards: run_files(wildcards.experiment),
    output:
        report(
            "results/selection/{experiment}.csv",
            caption="../report/selection.rst",
            category="Stepsize selection",
        ),
    wildcard_constraints:
        experiment=_alternatives(EXPERIMENTS),
    params:
        rule=lambda wildcards: json.dumps(config["experiments"][wildcards.experiment]["selection"], sort_keys=True),
    log:
        "logs/select_stepsizes/{experiment}.log",
    benchmark:
        "logs/benchmarks/select_stepsizes/{experiment}.tsv"
    script:
        "../scripts/select_stepsizes.py"
