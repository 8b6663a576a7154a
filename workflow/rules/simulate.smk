# Simulation jobs. With workflow.batch_multipliers (the default) one job per grid cell runs
# all multipliers and seeds of the cell as one vectorized batch and writes one result file
# per multiplier; otherwise one job per multiplier runs all its seeds.

if config["workflow"]["batch_multipliers"]:

    # Snakemake outputs are patterns, so a job whose file list comes from the config needs
    # a rule of its own: one rule per cell, named after it.
    for _cell, _jobs in byzsim.config.group_cells(JOBS).items():

        rule:
            name:
                "simulate_" + re.sub(r"[^A-Za-z0-9_]", "_", "_".join(_cell))
            input:
                [] if _cell[1] == "quadratic" else [dataset_cache(_cell[1])],
            output:
                [RUN_FILES[_job] for _job in _jobs],
            params:
                spec=cell_spec_json(_jobs),
                paths=json.dumps({repr(float(_job.multiplier)): RUN_FILES[_job] for _job in _jobs}),
            log:
                "logs/simulate/" + "/".join(_cell) + ".log",
            benchmark:
                "logs/benchmarks/simulate/" + "/".join(_cell) + ".tsv"
            threads: 1
            resources:
                mem_mb=3000,
                runtime=120,
            script:
                "../scripts/simulate_cell.py"

else:

    rule simulate:
        """Simulate one job's run specification and write its Parquet file to the store."""
        input:
            simulation_inputs,
        output:
            f"{RUNS_ROOT}/experiment={{experiment}}/dataset={{dataset}}/method={{method}}/"
            "attack={attack}/aggregator={aggregator}/multiplier={multiplier}/run.parquet",
        params:
            spec=job_spec_json,
        log:
            "logs/simulate/{experiment}/{dataset}/{method}/{attack}/{aggregator}/{multiplier}.log",
        benchmark:
            "logs/benchmarks/simulate/{experiment}/{dataset}/{method}/{attack}/{aggregator}/{multiplier}.tsv"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=30,
        script:
            "../scripts/simulate_run.py"
