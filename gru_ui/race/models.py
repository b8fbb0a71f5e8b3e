"""Model files on the race page: a trained contestant saved as ``.npz`` (download; read from the model files
the runner's worker writes, ``handle.live.models()``), and a saved model read back (upload) to set the
settings widgets and to continue training from its weights and optimizer state.

No Streamlit import.  Files are the engine's (``save_model`` / ``load_model``, which never unpickles); a file
written here carries ``run`` (the :class:`~gru_core.config.RunConfig`) and ``info``
(:class:`~gru_core.model.files.ModelInfo`, the keys the command line writes too), so the gate inspector and
``python -m gru_core forecast`` read it like any other.  An upload is read through ``Checkpoint.run`` and
``.info``; the page only checks what it allows (its limits) and which settings the file implies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, MutableMapping
from dataclasses import asdict, dataclass, field
from typing import Any

from gru_core.config import RunConfig, format_value, parse_value
from gru_core.fmt import num
from gru_core.jsonio import to_jsonable
from gru_core.model.files import Checkpoint, CheckpointError, ModelInfo, load_model, save_model_bytes
from gru_core.model.gru import GRUConfig
from gru_core.train.live import Snapshot
from gru_ui.limits import MODEL_UPLOAD_MB  # one limit for every page that opens model files

from .changes import merge_changes
from .session import RaceHandle, is_training
from .settings import CSV_SOURCE, SPLIT_KEYS, series_datasets, split_percent, wkey

__all__ = ["MODEL_ERROR_KEY", "MODEL_KEY", "MODEL_UPLOAD_MB", "ModelUpload", "handle_model_upload", "loaded_model",
           "model_file", "model_file_name", "model_fits", "read_model_upload", "shown_seed",
           "snapshot_models"]  # fmt: skip

MODEL_KEY = "loaded_model"  # session key: the uploaded model (ModelUpload) the next Train continues
MODEL_ERROR_KEY = "model_error"  # session key: why the last model upload was refused


# ----------------------------------------------------------------------------------------------------------
# saving
# ----------------------------------------------------------------------------------------------------------


def snapshot_models(handle: RaceHandle, snap: Snapshot) -> dict[str, Any] | None:
    """Every contestant's model and optimizer, read (``load_model``) from the model files the runner's worker
    wrote (``handle.live.models()``) while nothing trains (finished, stopped or paused; None while training,
    waiting in line or failed), cached per snapshot version.  Files are written from these, so a download
    never reads a model the worker is updating."""
    if is_training(snap) or snap.status in ("error", "queued", "cancelled"):
        return None
    shown = shown_seed(handle)
    memo = handle.models
    if memo is not None and memo.get("version") == snap.version and memo.get("seed") == shown:
        return memo
    try:
        files = handle.live.models()
    except (RuntimeError, TimeoutError):  # resumed meanwhile (not safe to read), or the worker is gone
        return None
    loaded = {name: load_model(data) for name, data in files.items()}
    copies = {name: (ck.model, ck.optimizer) for name, ck in loaded.items()}
    tests = {r["name"]: r["test"] for r in (snap.result or {}).get("runs", []) if r.get("test")}
    handle.models = {"version": snap.version, "seed": shown, "status": snap.status, "epoch": snap.epoch,
                     "step": snap.step, "runs": copies, "interventions": list(snap.interventions),
                     "tests": tests}  # fmt: skip
    return handle.models


def model_file(handle: RaceHandle, name: str, models: dict[str, Any] | None = None) -> bytes:
    """One contestant's trained model as ``.npz`` bytes (weights, optimizer state, the run's configuration,
    :class:`ModelInfo` and the fitted scaler; no pickles), from the models of :func:`snapshot_models`."""
    models = models if models is not None else handle.models
    if models is None or name not in models["runs"]:
        raise RuntimeError("the models can be saved only while the race is paused or after it ended")
    model, opt = models["runs"][name]
    contestant = handle.contestants[name]
    test = models.get("tests", {}).get(name)
    info = ModelInfo(
        label=name, optimizer=contestant.optimizer, flavor=contestant.flavor, seed=models.get("seed", handle.cfg.seed),
        status=models["status"], epochs_trained=models["epoch"], step=models["step"],
        metrics={"test": test} if test else {},
        series={"name": handle.series_name, "units": handle.units, "source": handle.series_source,
                "length": int(len(handle.prepared.raw))},
        interventions=[iv for iv in merge_changes(models["interventions"]) if iv.get("optimizer") == name],
        query=dict(handle.query), continued_from=handle.initial_from,
    )  # fmt: skip
    run = handle.cfg.replace()
    run.seeds = [int(models.get("seed", handle.cfg.seed))]  # the file is one seed's model: it says which
    return save_model_bytes(model, optimizer=opt, run=run, scaler=handle.prepared.scaler,
                            info=ModelInfo(**to_jsonable(asdict(info))))  # fmt: skip


def model_file_name(handle: RaceHandle, name: str, epoch: int) -> str:
    safe = "".join(ch if ch.isalnum() else "-" for ch in name).strip("-").lower() or "model"
    seed = f"-seed{shown_seed(handle)}" if len(handle.cfg.seeds) > 1 else ""
    return f"gru-{safe}-h{handle.cfg.model.hidden_size}{seed}-epoch{epoch}.npz"


def shown_seed(handle: RaceHandle) -> int:
    """The seed whose models the page shows (a race over several seeds: the seed picker's)."""
    seeds = handle.cfg.seeds
    return int(seeds[min(max(0, int(getattr(handle.live, "shown", 0))), len(seeds) - 1)])


# ----------------------------------------------------------------------------------------------------------
# reading an upload
# ----------------------------------------------------------------------------------------------------------


@dataclass
class ModelUpload:
    """An uploaded model file: the checkpoint and the settings it implies, or why it is unusable."""

    name: str
    digest: str
    checkpoint: Checkpoint | None = None
    error: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)  # setting name -> value (model and data)
    notes: list[str] = field(default_factory=list)

    @property
    def model_config(self) -> GRUConfig | None:
        return self.checkpoint.model.config if self.checkpoint is not None else None

    def summary(self) -> str:
        if self.checkpoint is None:
            return self.error or "no model"
        c = self.checkpoint.model.config
        opt = self.checkpoint.optimizer
        epochs = self.checkpoint.info.epochs_trained
        trained = f", {epochs} epochs" if isinstance(epochs, int) else ""
        opt_txt = f", {type(opt).__name__} state ({opt.flavor})" if opt is not None else ", no optimizer state"
        return (f"{self.name}: GRU {c.num_layers}×{c.hidden_size} ({c.variant}, {c.dtype}), lookback "
                f"{self.settings.get('lookback', '?')}, horizon {c.output_size}{trained}{opt_txt}")  # fmt: skip


def _short(v: Any, n: int = 120) -> str:
    s = "".join(ch if ch.isprintable() else "?" for ch in str(v))
    return s if len(s) <= n else s[:n] + "…"


def read_model_upload(data: bytes, name: str = "model.npz") -> ModelUpload:
    """Read an uploaded ``.npz`` model (bytes): the engine's ``load_model`` (never unpickles), then what
    the page allows.  Every problem becomes ``error``, naming what is wrong; nothing raises."""
    up = ModelUpload(name=name, digest=hashlib.sha256(data).hexdigest()[:16])
    if len(data) > MODEL_UPLOAD_MB * 1024 * 1024:
        up.error = (f"{name} is {num(len(data) / 2**20, '.1f')} MB; a model file of this app is at most "
                    f"{MODEL_UPLOAD_MB} MB.")  # fmt: skip
        return up
    try:
        ck = load_model(bytes(data))
    except CheckpointError as exc:
        up.error = f"{name} cannot be used: {exc}."
        return up
    except Exception as exc:  # noqa: BLE001 - whatever else a hostile file triggers is still the file's fault
        up.error = f"{name} is not a model file of this app ({type(exc).__name__}: {_short(exc)})."
        return up
    c = ck.model.config
    problems = []
    if c.input_size != 1:
        problems.append(f"it reads {c.input_size} values per time step; this page forecasts one series (1)")
    model = {"hidden_size": c.hidden_size, "num_layers": c.num_layers, "variant": c.variant, "init": c.init,
             "dropout": float(c.dropout), "dtype": c.dtype, "horizon": c.output_size}  # fmt: skip
    for setting, value in model.items():
        try:
            parse_value(setting, value, limit=True)
        except ValueError as exc:
            problems.append(f"{exc} (this page's limit)")
    if problems:
        up.error = f"{name} is a valid model file but cannot continue here: " + "; ".join(problems) + "."
        return up
    up.checkpoint = ck
    up.settings = dict(model)
    run: RunConfig | None = ck.run
    if run is None:
        up.notes.append("the file does not say how its data were prepared: the current data settings are kept")
        return up
    d = run.data
    if d.horizon != c.output_size:
        up.notes.append(f"its run says horizon {d.horizon}; the model predicts {c.output_size}")
    for setting in ("lookback", "split_by", "scaler", "fit_scaler_on"):
        try:
            up.settings[setting] = parse_value(setting, getattr(d, setting), limit=True)
        except ValueError as exc:
            up.notes.append(f"{setting} in the file ignored ({exc})")
    if split_percent(d.split) is not None:
        up.settings["split"] = tuple(d.split)
    else:
        up.notes.append(f"split={format_value(d.split)} in the file ignored (this page's widgets cannot show it)")
    if d.source in series_datasets():
        up.settings["source"] = d.source
    elif d.source == CSV_SOURCE:
        src = _short(ck.info.series.get("source") if isinstance(ck.info.series, dict) else None, 40)
        up.notes.append(f"it was trained on an uploaded CSV ({src}): upload it to continue on the same data")
    return up


def handle_model_upload(ss: MutableMapping[str, Any], data: bytes, name: str) -> ModelUpload:
    """Read an uploaded model file into the session.

    A usable model is stored under :data:`MODEL_KEY` and sets the settings widgets to match it (model
    size, variant, precision, lookback, horizon and the data settings it was trained with); a refused file
    only sets :data:`MODEL_ERROR_KEY`: every other value in ``ss`` stays as it was.
    """
    up = read_model_upload(data, name)
    if up.error is not None:
        ss[MODEL_ERROR_KEY] = up.error
        return up
    for setting, value in up.settings.items():
        if setting == "split":
            ss.update(zip(SPLIT_KEYS, split_percent(value)))
        else:
            ss[wkey(setting)] = value
    ss[MODEL_KEY] = up
    ss.pop(MODEL_ERROR_KEY, None)
    return up


def model_fits(up: ModelUpload | None, cfg: RunConfig) -> list[str]:
    """Why the uploaded model cannot start this configuration's race (empty: it can)."""
    if up is None or up.checkpoint is None:
        return ["no model"]
    c = up.checkpoint.model.config
    out = []
    for what, have, want in (
        ("hidden units", cfg.model.hidden_size, c.hidden_size),
        ("layers", cfg.model.num_layers, c.num_layers),
        ("variant", cfg.model.variant, c.variant),
        ("precision", cfg.model.dtype, c.dtype),
        ("horizon", cfg.data.horizon, c.output_size),
    ):
        if have != want:
            out.append(f"{what}: the settings say {have}, the model has {want}")
    return out


def loaded_model(ss: Mapping[str, Any], cfg: RunConfig) -> tuple[ModelUpload | None, list[str]]:
    """The uploaded model the next Train continues from (None: fresh weights) and why not, if it does not
    fit the current settings."""
    up = ss.get(MODEL_KEY)
    if up is None:
        return None, []
    problems = model_fits(up, cfg)
    return (up if not problems else None), problems
