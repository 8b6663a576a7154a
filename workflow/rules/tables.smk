# Tables 1-3 of the paper as CSV, Markdown and LaTeX (byzsim.tables.write_table).


rule table_datasets:
    """Table 2: rows, features and label balance of each dataset, from the loaded data."""
    input:
        [dataset_cache(name) for name in config["tables"]["datasets"]],
    output:
        **table_outputs("table2_datasets"),
    params:
        datasets=config["tables"]["datasets"],
    log:
        "logs/tables/table2_datasets.log",
    benchmark:
        "logs/benchmarks/tables/table2_datasets.tsv"
    script:
        "../scripts/table_datasets.py"


rule table_theory:
    """Tables 1 (rates) and 3 (theoretical stepsizes), evaluated on one dataset's split."""
    input:
        dataset_cache(config["tables"]["stepsizes_dataset"]),
    output:
        **{f"rates_{key}": value for key, value in table_outputs("table1_rates").items()},
        **{f"stepsizes_{key}": value for key, value in table_outputs("table3_stepsizes").items()},
    params:
        dataset=config["tables"]["stepsizes_dataset"],
        n_workers=config["tables"]["n_workers"],
        n_byzantine=config["tables"]["n_byzantine"],
        lam=config["tables"]["lam"],
    log:
        "logs/tables/theory.log",
    benchmark:
        "logs/benchmarks/tables/theory.tsv"
    script:
        "../scripts/table_theory.py"
