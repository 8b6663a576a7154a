"""Load exactly the result files a job lists as input, through the result store."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from byzsim import store

_KEYS = ("experiment", "dataset", "method", "attack", "aggregator", "multiplier")


def identity_of(path: str | Path) -> dict[str, str]:
    """Return the partition values (text) of a result path ``.../key=value/.../run.parquet``."""
    values = dict(part.split("=", 1) for part in Path(path).parent.parts if "=" in part)
    missing = [key for key in _KEYS if key not in values]
    if missing:
        raise ValueError(f"{path} is not a result file of the store layout: it lacks {missing}")
    return {key: values[key] for key in _KEYS}


def load_runs(paths, root: str = "results/runs") -> pd.DataFrame:
    """Return the long table of the given result files, read with :func:`byzsim.store.load`.

    The store is filtered by the files' partition values and then restricted to the
    listed files, so files of grid points no longer in the config are left out.
    """
    identities = [identity_of(path) for path in paths]
    if not identities:
        raise ValueError("no result files were given; the experiment's grid is empty")
    filters = {key: sorted({identity[key] for identity in identities}) for key in _KEYS}
    frame = store.load(root, **filters)
    listed = {tuple(identity[key] for key in _KEYS) for identity in identities}
    texts = pd.DataFrame({key: frame[key].astype(str) for key in _KEYS[:-1]})
    texts["multiplier"] = [store.format_multiplier(value) for value in frame["multiplier"]]
    keep = [row in listed for row in texts.itertuples(index=False, name=None)]
    return frame.loc[keep].reset_index(drop=True)
