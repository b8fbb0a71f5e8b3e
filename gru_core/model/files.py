"""Save and reload a trained model as one ``.npz`` file, never unpickling anything.

One file holds everything needed to continue training or to forecast: the parameters (PyTorch names),
the optimizer's state, the model configuration, the data configuration (lookback, horizon, scaler, …),
the fitted scaler and a format version.  Text parts are JSON stored as NumPy unicode scalars, so the file
loads with ``np.load(..., allow_pickle=False)``: a file carrying a pickle, missing keys, wrong shapes or
dtypes, a newer format version or truncated bytes raises :class:`CheckpointError` saying what is wrong.
Sizes are checked before anything is allocated: every entry's size from its ``.npy`` header, the model's
parameter count from its configuration (at most :data:`MAX_PARAMS`), and the parameter shapes the
configuration implies against the headers of the arrays present; so a small file claiming a huge model is
refused at once.

Layout (keys of the archive)::

    format_version            int64 scalar
    meta                      JSON: {"model_config", "run", "info", "data_config", "scaler", "optimizer"}
    param/<name>              every model parameter, e.g. param/gru.weight_ih_l0
    opt/<param name>/<key>    the optimizer's per-parameter arrays, e.g. opt/head.bias/exp_avg

The metadata, the same whoever wrote the file (the race page, ``compare --save-model``):

    model_config   the GRU's configuration (:class:`~gru_core.config.GRUConfig`)
    run            the :class:`~gru_core.config.RunConfig` the model was trained in (``RunConfig.to_dict()``)
    info           :class:`ModelInfo`: which contestant (label, optimizer, flavour, seed), how far it trained,
                   its test metrics, the series it saw, learning-rate changes, the link that reproduces it
    data_config    the run's data configuration (lookback, horizon, split, scaler, …) for forecasting
    scaler         the fitted scaler (``Scaler.to_dict()``)
    optimizer      the optimizer's name, flavour, steps, hyperparameters and scalar state

Files written before ``run``/``info`` existed (an ``extra`` dict with ``optimizer_label`` or
``optimizer_name``) are read into the same :class:`Checkpoint` fields by :func:`_legacy_info`.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from gru_core.config import DataConfig, GRUConfig, RunConfig
from gru_core.model.gru import GRURegressor, _sizes, param_shapes
from gru_core.optim import OPTIMIZERS

FORMAT_VERSION = 1
MAX_BYTES = 200 * 1024 * 1024  # a model of the sizes the page allows is a few MB
MAX_PARAMS = 50_000_000  # about what a MAX_BYTES file holds (float32); the page's largest model has ~1 M


class CheckpointError(ValueError):
    """A model file that cannot be loaded; the message says why."""


@dataclass
class ModelInfo:
    """Where a saved model comes from: the keys every writer of a model file fills in."""

    label: str = ""  # the contestant's label in its race, e.g. "Adam", "RMSprop (keras)", "Adam #2"
    optimizer: str = ""  # registry key of its optimizer
    flavor: str = "pytorch"
    seed: int | None = None  # the seed of its weights and batches
    status: str = ""  # finished, stopped, paused, early-stopped, …
    epochs_trained: int | None = None
    step: int | None = None  # optimizer steps taken
    metrics: dict = field(default_factory=dict)  # {"test": {"mse", "rmse", "mae", "mape", "r2"}} in the series' units
    series: dict = field(default_factory=dict)  # the series it saw: name, units, length, source
    interventions: list = field(default_factory=list)  # its learning-rate changes {"step", "new", …}
    query: dict = field(default_factory=dict)  # the race page's link parameters that reproduce the run
    continued_from: str | None = None  # the model file this training continued, if any
    app: str = "GRU Optimizer Lab"


@dataclass
class Checkpoint:
    model: GRURegressor
    optimizer: Any | None  # an optimizer with its state restored, or None if none was saved
    data_config: dict
    scaler: dict | None  # the scaler's to_dict(); see gru_core.data.scaler_from_dict
    info: ModelInfo = field(default_factory=ModelInfo)
    run: RunConfig | None = None  # the run's configuration (None: the file does not say)


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")


def save_model(target, model: GRURegressor, optimizer=None, run: RunConfig | None = None, scaler=None,
               info: ModelInfo | None = None, data_config: dict | None = None) -> None:  # fmt: skip
    """Write ``model`` (and optionally its optimizer, the run it was trained in, its fitted scaler and
    :class:`ModelInfo`) to a path or a binary file.  ``data_config`` defaults to the run's."""
    arrays: dict[str, np.ndarray] = {"format_version": np.asarray(FORMAT_VERSION, dtype=np.int64)}
    opt_meta = None
    if optimizer is not None:
        sd = optimizer.state_dict()
        scalars = {}
        for pname, st in sd["state"].items():
            for k, v in st.items():
                if isinstance(v, np.ndarray):
                    arrays[f"opt/{pname}/{k}"] = np.ascontiguousarray(v)
                else:
                    scalars.setdefault(pname, {})[k] = v
        opt_meta = {
            "optimizer": sd["optimizer"],
            "flavor": sd["flavor"],
            "steps": sd["steps"],
            "hyperparams": sd["hyperparams"],
            "shapes": {k: list(v) for k, v in sd["shapes"].items()},
            "scalars": scalars,
        }
    if data_config is None:
        data_config = run.to_dict()["data"] if run is not None else {}
    meta = {
        "model_config": asdict(model.config),
        "run": None if run is None else run.to_dict(),
        "info": asdict(info or ModelInfo()),
        "data_config": data_config,
        "scaler": scaler.to_dict() if hasattr(scaler, "to_dict") else scaler,
        "optimizer": opt_meta,
    }
    arrays["meta"] = np.asarray(json.dumps(meta, default=_json_default))
    for name, p in model.params.items():
        arrays[f"param/{name}"] = np.ascontiguousarray(p)
    if isinstance(target, (str, Path)):
        with open(target, "wb") as fh:
            np.savez(fh, **arrays)
    else:
        np.savez(target, **arrays)


def save_model_bytes(model: GRURegressor, **kwargs) -> bytes:
    buf = io.BytesIO()
    save_model(buf, model, **kwargs)
    return buf.getvalue()


def _open(source):
    """np.load without pickles; every way a file can be unreadable becomes a CheckpointError."""
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise CheckpointError(f"no model file at {str(path)!r}")
        if path.stat().st_size > MAX_BYTES:
            raise CheckpointError(f"the model file is larger than {MAX_BYTES // 2**20} MB; refusing to read it")
        with open(path, "rb") as fh:
            magic = fh.read(6)
    else:
        source.seek(0)
        magic = source.read(6)
        source.seek(0)
    if magic.startswith(b"\x93NUMPY"):
        raise CheckpointError("this is a single .npy array, not an .npz model file")
    if not magic.startswith((b"PK\x03\x04", b"PK\x05\x06")):  # a zip archive's local or end-of-archive header
        raise CheckpointError("not a readable .npz model file: it is not a zip archive (wrong file type?)")
    try:
        data = np.load(source, allow_pickle=False)
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise CheckpointError(f"not a readable .npz model file (truncated or not a zip archive): {exc}") from None
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise CheckpointError("the file contains pickled Python objects, which are never loaded here") from None
        raise CheckpointError(f"this is not a readable .npz model file: {exc}") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise CheckpointError("not a readable .npz model file")
    return data


def _header(data, key: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of entry ``key`` from its ``.npy`` header, without reading the array."""
    if key not in data.files:
        raise CheckpointError(f"the model file has no {key!r} entry (missing key)")
    member = key + ".npy" if key + ".npy" in data.zip.namelist() else key
    try:
        with data.zip.open(member) as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                raise CheckpointError(f"entry {key!r} has an unsupported .npy format version {version}")
    except CheckpointError:
        raise
    except ValueError as exc:
        raise CheckpointError(f"entry {key!r} is not a readable NumPy array: {exc}") from None
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise CheckpointError(f"entry {key!r} is truncated or corrupt: {exc}") from None
    return shape, dtype


def _get(data, key: str) -> np.ndarray:
    shape, dtype = _header(data, key)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > MAX_BYTES:
        raise CheckpointError(f"entry {key!r} declares shape {shape} ({nbytes / 2**20:.0f} MB), more than a "
                              f"model file may hold ({MAX_BYTES // 2**20} MB); refusing to read it")  # fmt: skip
    try:
        return data[key]
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise CheckpointError(f"entry {key!r} holds pickled Python objects, which are never loaded here") from None
        raise CheckpointError(f"entry {key!r} cannot be read: {exc}") from None
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise CheckpointError(f"entry {key!r} is truncated or corrupt: {exc}") from None


def load_model(source) -> Checkpoint:
    """Read a model file written by :func:`save_model` (a path, bytes or a binary file object)."""
    with _open(source) as data:
        version = _get(data, "format_version")
        if version.shape != () or not np.issubdtype(version.dtype, np.integer):
            raise CheckpointError("format_version must be an integer scalar")
        version = int(version)
        if version > FORMAT_VERSION:
            raise CheckpointError(
                f"the file has format version {version}, newer than this program's {FORMAT_VERSION}: "
                "update GRU Optimizer Lab to read it"
            )
        if version < 1:
            raise CheckpointError(f"unknown format version {version}")
        raw_meta = _get(data, "meta")
        if raw_meta.dtype.kind != "U" or raw_meta.shape != ():
            raise CheckpointError("the 'meta' entry must be a JSON text scalar")
        try:
            meta = json.loads(str(raw_meta))
        except json.JSONDecodeError as exc:
            raise CheckpointError(f"the 'meta' entry is not valid JSON: {exc}") from None
        if not isinstance(meta, dict) or not isinstance(meta.get("model_config"), dict):
            raise CheckpointError("the 'meta' entry has no model_config")
        known = {f.name for f in fields(GRUConfig)}
        cfg_dict = meta["model_config"]
        unknown = set(cfg_dict) - known
        if unknown:
            raise CheckpointError(f"model_config has unknown field(s) {sorted(unknown)}")
        try:
            config = GRUConfig(**cfg_dict)
            sizes = _sizes(config.input_size, config.hidden_size, config.output_size, config.num_layers)
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"model_config is invalid: {exc}") from None
        shapes = _claimed_shapes(data, *sizes)  # checked against the file before the model is built
        try:
            model = GRURegressor.from_config(config)
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"model_config is invalid: {exc}") from None
        for name in shapes:
            arr = _get(data, f"param/{name}")
            if arr.dtype != model.dtype:
                raise CheckpointError(f"parameter {name} has dtype {arr.dtype}, expected {model.dtype}")
            if not np.all(np.isfinite(arr)):
                raise CheckpointError(f"parameter {name} contains NaN or inf")
            model.params[name] = arr
        extra_params = [k for k in data.files if k.startswith("param/") and k[6:] not in shapes]
        if extra_params:
            raise CheckpointError(f"unexpected parameter(s) for this configuration: {extra_params}")
        optimizer = _load_optimizer(data, meta.get("optimizer"), shapes, model.dtype)
    data_config = meta.get("data_config") or {}
    return Checkpoint(model, optimizer, data_config, meta.get("scaler"), _info(meta), _run(meta, config, data_config))


def _info(meta: dict) -> ModelInfo:
    """The file's :class:`ModelInfo` (unknown keys ignored, so newer files still open)."""
    raw = meta.get("info")
    if not isinstance(raw, dict):
        return _legacy_info(meta)
    known = {f.name for f in fields(ModelInfo)}
    try:
        return ModelInfo(**{k: v for k, v in raw.items() if k in known})
    except TypeError as exc:
        raise CheckpointError(f"the 'info' entry is invalid: {exc}") from None


def _legacy_info(meta: dict) -> ModelInfo:
    """Files of before the one run configuration kept their story in ``extra`` under varying names."""
    extra = meta.get("extra") if isinstance(meta.get("extra"), dict) else {}
    opt = meta.get("optimizer") if isinstance(meta.get("optimizer"), dict) else {}
    label = extra.get("optimizer_label") or extra.get("optimizer_name") or ""
    test = extra.get("test")
    return ModelInfo(label=str(label), optimizer=str(extra.get("optimizer") or opt.get("optimizer") or ""),
                     flavor=str(extra.get("flavor") or opt.get("flavor") or "pytorch"),
                     status=str(extra.get("status") or ""), epochs_trained=extra.get("epochs_trained"),
                     step=extra.get("step"), metrics={"test": test} if isinstance(test, dict) else {},
                     interventions=list(extra.get("interventions") or []), query=dict(extra.get("query") or {}),
                     continued_from=extra.get("continued_from"))  # fmt: skip


def _run(meta: dict, model: GRUConfig, data_config: dict) -> RunConfig | None:
    """The run configuration a file records, or the one its legacy data configuration implies."""
    try:
        if isinstance(meta.get("run"), dict):
            return RunConfig.from_dict(meta["run"])
        if not data_config:  # a bare model: nothing says how it was fed
            return None
        known = {f.name for f in fields(DataConfig)}
        data = {k: v for k, v in data_config.items() if k in known}
        data.setdefault("source", data_config.get("dataset") or "unknown")
        m = asdict(model)
        return RunConfig(data=DataConfig(**data), model=m, seeds=[int(m["seed"])])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"the file's run configuration is invalid: {exc}") from None


def _claimed_shapes(data, input_size: int, hidden_size: int, output_size: int, num_layers: int) -> dict:
    """The parameter shapes ``model_config`` implies, once its sizes are shown to be plausible (at most
    MAX_PARAMS parameters, no more layers than the file has entries) and to match the arrays present."""
    I, H, O, L = input_size, hidden_size, output_size, num_layers
    count = 3 * H * (I + H + 2) + (L - 1) * 3 * H * (2 * H + 2) + O * (H + 1)  # = sum of param_shapes' sizes
    if count > MAX_PARAMS:
        raise CheckpointError(
            f"model_config describes a model of {count:,} parameters (input_size={I}, hidden_size={H}, "
            f"output_size={O}, num_layers={L}): more than the {MAX_PARAMS // 10**6} million parameters a model "
            "file may hold; refusing to build it"
        )
    if L > len(data.files):  # 4 arrays per layer: the file cannot hold them
        raise CheckpointError(f"model_config says num_layers={L}, but the file has only {len(data.files)} entries")
    shapes = param_shapes(I, H, O, L)
    for name, shape in shapes.items():
        found, _ = _header(data, f"param/{name}")
        if found != tuple(shape):
            raise CheckpointError(f"parameter {name} has shape {found}, expected {tuple(shape)}")
    return shapes


def _load_optimizer(data, opt_meta, shapes, dtype):
    if opt_meta is None:
        return None
    if not isinstance(opt_meta, dict):
        raise CheckpointError("the optimizer entry of 'meta' is malformed")
    cls_name = opt_meta.get("optimizer")
    spec = next((s for s in OPTIMIZERS.values() if s.cls.__name__ == cls_name), None)
    if spec is None:
        raise CheckpointError(f"unknown optimizer {cls_name!r} in the model file")
    try:
        opt = spec.cls(flavor=opt_meta.get("flavor", "pytorch"))
        state: dict[str, dict] = {}
        for pname in opt_meta.get("shapes", {}):
            if pname not in shapes:
                raise CheckpointError(f"optimizer state names unknown parameter {pname!r}")
            st = dict(opt_meta.get("scalars", {}).get(pname, {}))
            prefix = f"opt/{pname}/"
            expected = opt.state_shapes(pname, tuple(shapes[pname]))  # e.g. Adafactor's row and column moments
            for key in data.files:
                if key.startswith(prefix):
                    shape, found = _header(data, key)  # checked before reading
                    want = tuple(expected.get(key[len(prefix) :], tuple(shapes[pname])))
                    if shape != want or found != dtype:
                        raise CheckpointError(f"optimizer state {key} has shape {shape} / dtype {found}, "
                                              f"expected {want} / {dtype}")  # fmt: skip
                    st[key[len(prefix) :]] = _get(data, key)
            state[pname] = st
        opt.load_state_dict({"optimizer": cls_name, "flavor": opt_meta.get("flavor", "pytorch"),
                             "steps": int(opt_meta.get("steps", 0)), "hyperparams": opt_meta["hyperparams"],
                             "shapes": opt_meta.get("shapes", {}), "state": state})  # fmt: skip
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"the optimizer state cannot be restored: {exc}") from None
    return opt
