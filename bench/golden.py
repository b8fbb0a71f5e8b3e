"""Golden comparison: do ``compare --json`` and ``sweep --json`` give the same numbers as another revision?

    python bench/golden.py                 # this working tree against HEAD
    python bench/golden.py --base 2152a98  # … against any commit (checked out in a temporary worktree)

Runs the same command lines (both GRU variants, dropout, two layers, early stopping with restore, float32,
a horizon of 2, a random search, the original study's protocol on its CSV, a saved model and a forecast) in both trees,
drops what legitimately differs between runs (timings, library versions, paths, store ids) and compares
the rest exactly, float for float.  Exit status 0 when every output is identical.  Used to show that a
re-layout of the code changed no number; the old command-line spellings (``--hidden``, ``--layers``,
``--clip``) are used because every revision understands them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STUDY_CSV = ROOT.parent / "shared" / "data" / "tin_price.csv"
VOLATILE = {"seconds", "wall_seconds", "timings", "versions", "store", "sweep_id", "executor", "created"}


def commands(tin: str) -> dict[str, list[str]]:
    study = ["--flavor", "keras", "--init", "keras", "--lookback", "20", "--split", "0.81,0.09,0.10",
             "--split-by", "series", "--fit-scaler-on", "all", "--dropout", "0.3", "--patience", "3",
             "--no-restore-best"]  # fmt: skip
    return {
        "c1": ["compare", "--data", "noisy_sine", "--optimizers", "adam,rmsprop,sgd", "--epochs", "4", "--hidden", "8"],
        "c2": ["compare", "--data", "sine", "--optimizers", "adam,adamw", "--variant", "classic", "--layers", "2",
               "--epochs", "3", "--hidden", "6", "--dropout", "0.2"],
        "c3": ["compare", "--data", "noisy_sine", "--optimizers", "adam,rmsprop,adagrad", "--epochs", "30", "--hidden",
               "8", "--patience", "2", "--lr", "0.05", "--clip", "1.0", "--schedule", "step", "--seed", "3"],
        "c4": ["compare", "--data", tin, "--optimizers", "adam,rmsprop", "--hidden", "16", "--epochs", "6",
               "--batch-size", "64", "--lr", "0.01", "--seed", "1", *study],
        "c5": ["compare", "--data", "sunspots", "--optimizers", "adam", "--epochs", "3", "--hidden", "8", "--dtype",
               "float32", "--scaler", "standard", "--horizon", "2"],
        "s1": ["sweep", "--data", "noisy_sine", "--optimizers", "adam,rmsprop", "--grid", "hidden_size=4,8", "--grid",
               "lr=0.01,0.001", "--epochs", "3", "--seeds", "2", "--workers", "0", "--no-store"],
        "s2": ["sweep", "--data", tin, "--grid", "batch_size=32,64", "--grid", "epochs=3", "--grid", "hidden_size=8",
               "--seeds", "2", "--workers", "0", "--no-store", *study],
        "s3": ["sweep", "--data", "sine", "--variant", "classic", "--data-param", "length=300", "--search", "2",
               "--space", "lr=0.001:0.1", "--epochs", "2", "--hidden", "4", "--seeds", "1", "--workers", "0",
               "--no-store"],
        "s4": ["sweep", "--data", "sine", "--horizon", "2", "--grid", "dropout=0,0.2", "--epochs", "2", "--hidden",
               "4", "--seeds", "2", "--workers", "0", "--no-store"],
    }  # fmt: skip


def tin_csv(folder: Path) -> str:
    """The study's CSV if it lies beside the project, else a tin-like one of the same shape and format."""
    if STUDY_CSV.exists():
        return str(STUDY_CSV)
    import numpy as np
    import pandas as pd

    dates = pd.bdate_range("2019-01-02", periods=1262)
    price = 20000 * np.exp(np.cumsum(np.random.default_rng(2019).normal(0, 0.012, len(dates))))
    path = folder / "tin_like.csv"
    lines = ["Date;Close"] + [f"{d:%d/%m/%Y};{p:.2f}" for d, p in zip(dates, price)]
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
    return str(path)


def run_all(tree: Path, out: Path, tin: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GRU_LAB_STORE": str(out / "store.sqlite"), "PYTHONPATH": str(tree)}
    for name, argv in commands(tin).items():
        subprocess.run([sys.executable, "-m", "gru_core", *argv, "--json", str(out / f"{name}.json")], cwd=tree,
                       env=env, check=True, capture_output=True, timeout=900)  # fmt: skip
    model = out / "m"
    subprocess.run([sys.executable, "-m", "gru_core", "compare", "--data", "noisy_sine", "--optimizers", "adam",
                    "--epochs", "2", "--hidden", "8", "--save-model", str(model)], cwd=tree, env=env, check=True,
                   capture_output=True, timeout=900)  # fmt: skip
    subprocess.run([sys.executable, "-m", "gru_core", "forecast", "--model", f"{model}_adam.npz", "--data",
                    "noisy_sine", "--steps", "5", "--json", str(out / "f1.json")], cwd=tree, env=env, check=True,
                   capture_output=True, timeout=900)  # fmt: skip


def normalise(obj, path: str = ""):
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k in VOLATILE or (path == "" and k == "model" and isinstance(v, str)):
                continue
            if k == "optimizers" and path.endswith("spec"):  # the spec's field was renamed "contestants"
                k = "contestants"
            out[k] = normalise(v, f"{path}.{k}")
        return out
    if isinstance(obj, list):
        return [normalise(v, path) for v in obj]
    return obj


def differences(a, b, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in differences(a.get(k), b.get(k), f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {str(a)[:80]} != {str(b)[:80]}"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", default="HEAD", help="the revision to compare this working tree with")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        base = tmp / "base"
        subprocess.run(["git", "worktree", "add", "--detach", str(base), args.base], cwd=ROOT, check=True,
                       capture_output=True)  # fmt: skip
        try:
            tin = tin_csv(tmp)
            run_all(base, tmp / "out_base", tin)
            run_all(ROOT, tmp / "out_here", tin)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, capture_output=True)
        bad = 0
        for f in sorted((tmp / "out_base").glob("*.json")):
            diff = differences(normalise(json.loads(f.read_text())),
                               normalise(json.loads((tmp / "out_here" / f.name).read_text())))  # fmt: skip
            print(f"{f.stem}: {'identical' if not diff else f'{len(diff)} differences'}")
            for d in diff[:10]:
                print("   ", d)
            bad += bool(diff)
    print(f"{'ALL IDENTICAL' if not bad else f'{bad} outputs differ'} (this tree vs {args.base})")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
