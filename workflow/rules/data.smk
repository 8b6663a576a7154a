# LibSVM datasets: download (from data.mirror, $BYZSIM_LIBSVM_MIRROR or upstream) and parse.


rule download_dataset:
    """Fetch one registry dataset to <data.dir>/<name>, validated against its registry entry."""
    output:
        f"{DATA_DIR}/{{dataset}}",
    wildcard_constraints:
        dataset=_alternatives(config["datasets"]),
    log:
        "logs/download_dataset/{dataset}.log",
    benchmark:
        "logs/benchmarks/download_dataset/{dataset}.tsv"
    retries: 1
    localrule: True
    script:
        "../scripts/download_dataset.py"


rule cache_dataset:
    """Parse a downloaded dataset once into <data.dir>/<name>.npz for the simulations."""
    input:
        f"{DATA_DIR}/{{dataset}}",
    output:
        f"{DATA_DIR}/{{dataset}}.npz",
    wildcard_constraints:
        dataset=_alternatives(config["datasets"]),
    log:
        "logs/cache_dataset/{dataset}.log",
    benchmark:
        "logs/benchmarks/cache_dataset/{dataset}.tsv"
    script:
        "../scripts/cache_dataset.py"
