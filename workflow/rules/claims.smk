# The paper's experimental claims checked against our runs.


rule check_claims:
    """Evaluate each comparison of the paper's Section 4 and Appendix H on the store."""
    input:
        runs=list(RUN_FILES.values()),
        selections=expand("results/selection/{experiment}.csv", experiment=EXPERIMENTS),
    output:
        md=report("results/claims.md", caption="../report/claims.rst", category="Claims"),
        csv="results/claims.csv",
    params:
        figures=json.dumps(PAPER_FIGURES, sort_keys=True),
    log:
        "logs/check_claims.log",
    benchmark:
        "logs/benchmarks/check_claims.tsv"
    script:
        "../scripts/check_claims.py"
