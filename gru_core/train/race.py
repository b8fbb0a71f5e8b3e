"""The training engine: several optimizers race in lockstep from identical weights on identical batches.

A :class:`Race` builds one GRU from a :class:`~gru_core.model.gru.GRUConfig`, copies its weights into one model
per contestant, and then, epoch by epoch and mini-batch by mini-batch, gives every contestant the same
batch (same order, same dropout masks).  Whatever differs between the contestants' curves is therefore
the optimizer's doing.  Same seed ⇒ same numbers, bit for bit.

The race is a generator of :class:`Event` objects: a listener (the command line's progress bar, the
page's worker thread) draws them and may stop at any moment; what was trained so far is kept, and
:meth:`Race.result` reports on it.  Events carry numbers and small gate snapshots, never model copies.

A run *diverges* when its loss or gradient stops being finite, or its loss grows past
``divergence_factor`` × its first loss: it is marked with the epoch and global step where that happened
and drops out, while the others carry on.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from gru_core.config import SCHEDULES, Contestant, GRUConfig, TrainConfig
from gru_core.data.metrics import baseline_metrics, regression_metrics
from gru_core.model.gru import GRURegressor, clip_grad_norm, grad_norm
from gru_core.optim import make_optimizer
from gru_core.surface.landscape import TrajectoryRecorder

__all__ = ["SCHEDULES", "TRAJECTORY_FLOATS", "Contestant", "EpochRecord", "Event", "Race", "RunState", "TrainConfig",
           "recursive_forecast", "trajectory_points"]  # fmt: skip

# the parameter vectors one race keeps for its loss-surface picture (gru_core.surface), all contestants together:
# 600,000 floats = 4.8 MB (hidden 32, two optimizers, 3,329 parameters each: 90 points; the default 80-epoch race
# keeps every epoch).  Between TRAJECTORY_MIN_POINTS and TRAJECTORY_MAX_POINTS points per contestant.
TRAJECTORY_FLOATS = 600_000
TRAJECTORY_MIN_POINTS, TRAJECTORY_MAX_POINTS = 12, 101


def trajectory_points(n_params: int, n_contestants: int) -> int:
    """How many parameter vectors each contestant's :class:`TrajectoryRecorder` keeps (see TRAJECTORY_FLOATS)."""
    fit = TRAJECTORY_FLOATS // max(1, n_params * n_contestants)
    return int(min(TRAJECTORY_MAX_POINTS, max(TRAJECTORY_MIN_POINTS, fit)))


@dataclass
class EpochRecord:
    """One row of a run's history."""

    epoch: int  # 1-based
    step: int  # global mini-batch steps so far
    train_loss: float  # mean mini-batch loss over the epoch (scaled units, with dropout), like Keras
    val_loss: float  # MSE on the validation windows, evaluation mode (scaled units); nan without val
    grad_norm: float  # mean global gradient norm over the epoch's steps (before clipping)
    update_norm: float  # ‖Δθ‖ of the epoch's last step
    update_ratio: float  # ‖Δθ‖ / ‖θ‖ of the epoch's last step: the learning rate's real effect
    lr: float
    seconds: float  # this run's cumulative training time


@dataclass
class RunState:
    """Everything the race knows about one contestant (the model and optimizer stay here)."""

    name: str
    contestant: Contestant
    model: GRURegressor
    opt: Any
    history: list[EpochRecord] = field(default_factory=list)
    status: str = "running"  # running | early_stopped | diverged | finished | stopped
    best_epoch: int | None = None
    best_val: float = math.inf
    stopped_epoch: int | None = None  # epoch at which training ended (early stop, divergence, user stop)
    diverged_step: int | None = None
    diverged_epoch: int | None = None
    diverged_reason: str | None = None
    seconds: float = 0.0
    first_loss: float | None = None
    best_flat: np.ndarray | None = None  # weights at the best validation loss
    wait: int = 0  # epochs since the best

    @property
    def active(self) -> bool:
        return self.status == "running"


@dataclass
class Event:
    """What a listener receives: after every epoch (kind="epoch"), every ``log_every`` steps
    (kind="step"), when training halts for a pause (kind="paused"), and once at the end (kind="end")."""

    kind: str
    epoch: int  # epochs completed (for "step": the epoch in progress, 1-based)
    step: int  # global mini-batch steps so far
    total_epochs: int
    runs: dict[str, dict]  # name -> {status, train_loss, val_loss, grad_norm, update_norm, lr, ...}
    gates: dict[str, list[dict[str, np.ndarray]]] | None = None  # name -> per layer {z,r,n,h}: (T, H)
    forecasts: dict[str, np.ndarray] | None = None  # name -> test predictions in the series' units (N, horizon)



def check_count(name: str, value: Any) -> int:
    """A classroom control's count (mini-batches to step, a step to halt before): a positive integer, else
    ValueError.  Shared by the race and the runner's handles (which refuse a bad value before it travels)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_lr(value: Any) -> float:
    """A learning rate set mid-race: a positive finite number, else ValueError."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"lr must be a number, got {value!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"lr must be a positive finite number, got {value!r}")
    return value

class Race:
    """Train several optimizers in lockstep.  See the module docstring."""

    def __init__(self, prepared, model_config: GRUConfig, contestants: list[Contestant],
                 train_config: TrainConfig | None = None, interventions: list[dict] | None = None,
                 initial_params=None, initial_optimizer_states: dict[str, dict] | None = None):  # fmt: skip
        """``initial_params`` (a flat vector or a dict of named arrays, e.g. a reloaded model's ``params``)
        replaces the seeded initialisation for every contestant, to continue training a saved model;
        ``initial_optimizer_states`` maps contestant names to ``opt.state_dict()`` values to restore."""
        if not contestants:
            raise ValueError("contestants: give at least one optimizer")
        self.prepared = prepared
        self.train_config = train_config or TrainConfig()
        self.train_config.validate()
        X = np.asarray(prepared.X_train)
        y = np.asarray(prepared.y_train)
        if X.ndim != 3 or len(X) == 0:
            raise ValueError(f"prepared.X_train must be (N, T, D) with N >= 1, got {X.shape}")
        if model_config.input_size != X.shape[2] or model_config.output_size != y.shape[1]:
            raise ValueError(
                f"model_config has input_size={model_config.input_size}, output_size="
                f"{model_config.output_size} but the data has {X.shape[2]} features and {y.shape[1]} targets"
            )
        self.model_config = model_config
        names = [c.name for c in contestants]
        if len(set(names)) != len(names):
            raise ValueError(f"contestants need distinct labels, got {names}")
        template = GRURegressor.from_config(model_config)
        if initial_params is not None:
            if isinstance(initial_params, dict):
                template.load_params(initial_params)
            else:
                flat = np.asarray(initial_params, dtype=template.dtype)
                if flat.shape != template.params.flat.shape:
                    raise ValueError(f"initial_params has shape {flat.shape}, the model needs "
                                     f"{template.params.flat.shape}")  # fmt: skip
                template.params.flat[:] = flat
            if not np.all(np.isfinite(template.params.flat)):
                raise ValueError("initial_params contains NaN or inf")
        self.initial_flat = template.params.flat.copy()
        self.runs: dict[str, RunState] = {}
        for c in contestants:
            model = GRURegressor.from_config(model_config)  # same seed: same weights and dropout stream
            model.params.flat[:] = self.initial_flat
            opt = make_optimizer(c.optimizer, flavor=c.flavor, **c.hyper)
            if initial_optimizer_states and c.name in initial_optimizer_states:
                hyper = dict(opt.hyperparams())
                opt.load_state_dict(initial_optimizer_states[c.name])  # raises ValueError on a mismatch
                for k, v in hyper.items():  # the contestant's own hyperparameters win over the saved ones
                    setattr(opt, k, v)
            self.runs[c.name] = RunState(c.name, c, model, opt)
        dtype = template.dtype
        self._X_train = np.ascontiguousarray(X, dtype=dtype)
        self._y_train = np.ascontiguousarray(y, dtype=dtype)
        self._X_val = np.ascontiguousarray(prepared.X_val, dtype=dtype) if len(prepared.X_val) else None
        self._y_val = np.ascontiguousarray(prepared.y_val, dtype=dtype) if len(prepared.y_val) else None
        self.gate_input = None
        if self._X_val is not None:
            w = min(max(self.train_config.gate_window, 0), len(self._X_val) - 1)
            self._gate_X = self._X_val[w : w + 1]
            self.gate_input = self._gate_X[0, :, 0].astype(np.float64)  # scaled input window   # (T,)
        self._base_lr = {name: float(run.opt.lr) for name, run in self.runs.items()}
        # each contestant's path through parameter space, for the loss-surface picture (bounded: see
        # TRAJECTORY_FLOATS); recorded at epoch 0 (the shared start), after every epoch it trained, and at the end
        points = trajectory_points(template.num_params, len(self.runs))
        self.trajectories = {name: TrajectoryRecorder(points) for name in self.runs}
        self.epoch = 0
        self.step = 0
        self._stop = False
        # classroom control: pause / resume / step, and interventions (a learning rate changed mid-race)
        self._cond = threading.Condition()
        self._paused = False
        self._budget: int | None = None  # mini-batches left before pausing again (step mode)
        self._pause_step: int | None = None  # pause before this step (pause_before)
        self.paused_seconds = 0.0  # time spent halted in pauses (elapsed time and steps/s leave it out)
        self._halted_since: float | None = None  # when the current pause began (None: not halted)
        self._pending: list[tuple[str, str, float]] = []  # changes asked for, applied before the next step
        # called after every mini-batch in the training thread (a listener's speed limit); never touches numbers
        self.after_batch: Callable[[], None] | None = None
        self.pauses: list[dict] = []  # {"step", "epoch", "changed"}: where training halted
        self.interventions: list[dict] = []  # applied: {"step", "optimizer", "field", "old", "new"}
        self._scheduled = sorted((self._check_intervention(iv) for iv in interventions or []),
                                 key=lambda iv: iv["step"])  # fmt: skip

    # ---- control ---------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the race to end after the current mini-batch (also ends a pause)."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        """Halt after the current mini-batch; nothing changes until :meth:`resume` or :meth:`step_batches`."""
        with self._cond:
            self._paused = True

    def resume(self) -> None:
        """Continue exactly where training halted (same numbers as if it had never paused)."""
        with self._cond:
            self._paused = False
            self._budget = None
            self._cond.notify_all()

    def step_batches(self, k: int = 1) -> None:
        """Train ``k`` more mini-batches, then pause."""
        k = check_count("k", k)
        with self._cond:
            self._budget = k
            self._paused = False
            self._cond.notify_all()

    def step_epoch(self) -> None:
        """Train one whole epoch's worth of mini-batches, then pause: from an epoch's start exactly that epoch;
        halted within an epoch, the rest of it and as many mini-batches of the next (one new point per curve)."""
        n_batches = -(-len(self._X_train) // self.train_config.batch_size)
        with self._cond:
            self._budget = max(1, n_batches)
            self._paused = False
            self._cond.notify_all()

    def pause_before(self, step: int) -> None:
        """Halt just before mini-batch step ``step`` (1-based) trains, e.g. before a replayed learning-rate change
        so that a class sees it happen; nothing if that step is already past."""
        step = check_count("step", step)
        with self._cond:
            self._pause_step = step if step > self.step else None

    def set_lr(self, name: str, value: float) -> None:
        """Change a contestant's learning rate from the next step on (recorded in ``interventions``)."""
        if name not in self.runs:
            raise ValueError(f"unknown contestant {name!r}; known: {list(self.runs)}")
        value = check_lr(value)
        with self._cond:
            self._pending.append((name, "lr", value))
            if self._paused and self.pauses:
                self.pauses[-1]["changed"] = True

    def _check_intervention(self, iv: dict) -> dict:
        try:
            out = {"step": int(iv["step"]), "optimizer": str(iv["optimizer"]), "field": str(iv["field"]),
                   "old": float(iv.get("old", float("nan"))), "new": float(iv["new"])}  # fmt: skip
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"intervention must have step, optimizer, field and new, got {iv!r}") from None
        if out["optimizer"] not in self.runs:
            raise ValueError(f"intervention names unknown optimizer {out['optimizer']!r}; known: {list(self.runs)}")
        if out["field"] != "lr":
            raise ValueError(f"only the learning rate ('lr') can be changed mid-race, got {out['field']!r}")
        if out["step"] < 1 or not (math.isfinite(out["new"]) and out["new"] > 0):
            raise ValueError(f"intervention needs step >= 1 and a positive lr, got {iv!r}")
        return out

    def _apply_interventions(self) -> None:
        """Before step ``self.step + 1``: apply replayed changes due now, then the ones asked for live."""
        nxt = self.step + 1
        due = []
        while self._scheduled and self._scheduled[0]["step"] <= nxt:
            iv = self._scheduled.pop(0)
            due.append((iv["optimizer"], iv["field"], iv["new"]))
        with self._cond:
            due += self._pending
            self._pending = []
        for name, fld, new in due:
            old = self._base_lr[name]
            self._base_lr[name] = new
            self.interventions.append({"step": nxt, "optimizer": name, "field": fld, "old": old, "new": new})

    def _wait_while_paused(self) -> None:
        with self._cond:
            self._halted_since = time.perf_counter()
            while self._paused and not self._stop:
                self._cond.wait()
            self.paused_seconds += time.perf_counter() - self._halted_since
            self._halted_since = None

    def halted(self) -> bool:
        """Training is halted in a pause right now (not merely asked to pause: the current mini-batch is done)."""
        with self._cond:
            return self._halted_since is not None

    def halted_seconds(self) -> float:
        """Seconds spent halted in pauses so far, the current pause included."""
        with self._cond:
            now = self._halted_since
            return self.paused_seconds + (time.perf_counter() - now if now is not None else 0.0)

    def _after_batch(self) -> None:
        with self._cond:
            if self._budget is not None:
                self._budget -= 1
                if self._budget <= 0:
                    self._budget = None
                    self._paused = True

    # ---- the loop --------------------------------------------------------------------------------

    def _lr_factor(self, epoch: int) -> float:
        cfg = self.train_config
        if cfg.schedule == "step":
            return cfg.step_gamma ** (epoch // cfg.step_every)
        if cfg.schedule == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * epoch / cfg.epochs))
        return 1.0

    def _val_loss(self, model: GRURegressor) -> float:
        if self._X_val is None:
            return float("nan")
        with np.errstate(all="ignore"):
            diff = model.predict(self._X_val) - self._y_val
            return float(np.mean(diff * diff))

    def _gates(self, model: GRURegressor) -> list[dict[str, np.ndarray]] | None:
        if self._X_val is None:
            return None
        with np.errstate(all="ignore"):
            _, trace = model.forward(self._gate_X)
        return [{k: v[0] for k, v in layer.items()} for layer in trace]  # (T, H) each

    def _diverge(self, run: RunState, reason: str, epoch: int) -> None:
        run.status = "diverged"
        run.diverged_step = self.step
        run.diverged_epoch = epoch
        run.diverged_reason = reason
        run.stopped_epoch = epoch

    def _summary(self, run: RunState) -> dict:
        last = run.history[-1] if run.history else None
        return {
            "status": run.status,
            "epoch": last.epoch if last else 0,
            "train_loss": last.train_loss if last else None,
            "val_loss": last.val_loss if last else None,
            "grad_norm": last.grad_norm if last else None,
            "update_norm": last.update_norm if last else None,
            "update_ratio": last.update_ratio if last else None,
            "lr": float(run.opt.lr),
            "best_epoch": run.best_epoch,
            "best_val": run.best_val if math.isfinite(run.best_val) else None,
            "diverged_step": run.diverged_step,
            "diverged_epoch": run.diverged_epoch,
            "diverged_reason": run.diverged_reason,
            "stopped_epoch": run.stopped_epoch,
            "seconds": run.seconds,
        }

    def _event(self, kind: str, gates: bool) -> Event:
        return Event(
            kind=kind,
            epoch=self.epoch,
            step=self.step,
            total_epochs=self.train_config.epochs,
            runs={name: self._summary(run) for name, run in self.runs.items()},
            gates={name: self._gates(run.model) for name, run in self.runs.items()} if gates else None,
            forecasts=self._forecasts() if gates else None,
        )

    def _forecasts(self) -> dict[str, np.ndarray]:
        """Every live or finished contestant's test predictions in the series' units (cheap: one forward
        pass over the test windows), computed here in the training thread so a listener never touches a
        model while it trains."""
        out = {}
        for name, run in self.runs.items():
            if run.status != "diverged" and len(self.prepared.X_test):
                with np.errstate(all="ignore"):
                    out[name] = self.predict_raw(name, self.prepared.X_test)
        return out

    def run(self) -> Iterator[Event]:
        """Train; yield an :class:`Event` after every epoch (and every ``log_every`` steps)."""
        cfg = self.train_config
        N = len(self._X_train)
        order_rng = np.random.default_rng(cfg.seed)
        for name, run in self.runs.items():
            self.trajectories[name].record(0, run.model.params.flat)
        yield self._event("epoch", gates=True)  # epoch 0: the shared starting point
        while self.epoch < cfg.epochs and not self._stop and any(r.active for r in self.runs.values()):
            epoch = self.epoch + 1
            order = order_rng.permutation(N) if cfg.shuffle else np.arange(N)
            factor = self._lr_factor(self.epoch)
            acc = {name: [0.0, 0.0, 0] for name in self.runs}  # loss sum, grad-norm sum, steps
            last_update = {name: (0.0, 0.0) for name in self.runs}
            for start in range(0, N, cfg.batch_size):
                if self._pause_step is not None and self.step + 1 >= self._pause_step:
                    with self._cond:
                        self._pause_step, self._paused = None, True
                if self._paused and not self._stop:
                    self.pauses.append({"step": self.step, "epoch": self.epoch, "changed": False})
                    yield self._event("paused", gates=True)  # let the listener draw the halted state
                    self._wait_while_paused()
                if self._stop:
                    break
                self._apply_interventions()
                idx = order[start : start + cfg.batch_size]
                Xb, yb = self._X_train[idx], self._y_train[idx]  # the same batch for every contestant
                self.step += 1
                for name, run in self.runs.items():
                    if not run.active:
                        continue
                    t0 = time.perf_counter()
                    run.opt.lr = self._base_lr[name] * factor
                    with np.errstate(all="ignore"):
                        loss, grads = run.model.loss_and_grads(Xb, yb)
                        gnorm = grad_norm(grads)
                    if run.first_loss is None:
                        run.first_loss = loss
                    if not (math.isfinite(loss) and math.isfinite(gnorm)):
                        self._diverge(run, "loss or gradient is NaN/inf", epoch)
                    elif loss > cfg.divergence_factor * max(run.first_loss, 1e-12):
                        self._diverge(run, f"loss exceeded {cfg.divergence_factor:g}× its first value", epoch)
                    else:
                        if cfg.clip_norm is not None:
                            clip_grad_norm(grads, cfg.clip_norm)
                        before = run.model.params.flat.copy()
                        with np.errstate(all="ignore"):
                            run.opt.step(run.model.params, grads)
                        delta = run.model.params.flat - before
                        unorm = float(np.sqrt(delta @ delta))
                        if not math.isfinite(unorm):
                            self._diverge(run, "the update produced NaN/inf weights", epoch)
                        else:
                            pnorm = float(np.sqrt(before @ before))
                            last_update[name] = (unorm, unorm / pnorm if pnorm > 0 else float("nan"))
                            a = acc[name]
                            a[0] += loss
                            a[1] += gnorm
                            a[2] += 1
                    run.seconds += time.perf_counter() - t0
                self._after_batch()
                if self.after_batch is not None:
                    self.after_batch()
                if cfg.log_every and self.step % cfg.log_every == 0:
                    ev = self._event("step", gates=False)
                    for name, a in acc.items():
                        if a[2]:
                            ev.runs[name]["batch_loss_mean"] = a[0] / a[2]
                    ev.epoch = epoch
                    yield ev
            if self._stop and all(a[2] == 0 for a in acc.values()):
                break
            self.epoch = epoch
            for name, run in self.runs.items():
                a = acc[name]
                if run.status not in ("running", "diverged") or a[2] == 0:
                    continue
                t0 = time.perf_counter()
                val = self._val_loss(run.model) if run.active else float("nan")
                run.history.append(
                    EpochRecord(
                        epoch=epoch, step=self.step, train_loss=a[0] / a[2], val_loss=val,
                        grad_norm=a[1] / a[2], update_norm=last_update[name][0],
                        update_ratio=last_update[name][1], lr=float(run.opt.lr), seconds=0.0,
                    )
                )  # fmt: skip
                if run.active:
                    monitored = val if self._X_val is not None else run.history[-1].train_loss
                    if not math.isfinite(monitored):
                        self._diverge(run, "validation loss is NaN/inf", epoch)
                    elif monitored < run.best_val:
                        run.best_val, run.best_epoch, run.wait = monitored, epoch, 0
                        run.best_flat = run.model.params.flat.copy()
                    else:
                        run.wait += 1
                        if cfg.patience is not None and run.wait >= cfg.patience:
                            run.status = "early_stopped"
                            run.stopped_epoch = epoch
                run.seconds += time.perf_counter() - t0
                run.history[-1].seconds = run.seconds
                self.trajectories[name].record(epoch, run.model.params.flat)
            yield self._event("epoch", gates=True)
        for run in self.runs.values():
            if run.active:
                run.status = "stopped" if self._stop or self.epoch < cfg.epochs else "finished"
                run.stopped_epoch = self.epoch
            if cfg.restore_best and run.best_flat is not None and run.status != "diverged":
                run.model.params.flat[:] = run.best_flat
                if run.history and run.best_epoch != run.history[-1].epoch:  # the path ends where the model does
                    self.trajectories[run.name].record(run.best_epoch, run.best_flat)
        yield self._event("end", gates=True)

    def train(self) -> dict:
        """Run to the end without a listener; return :meth:`result`."""
        for _ in self.run():
            pass
        return self.result()

    # ---- results ---------------------------------------------------------------------------------

    def trajectory(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(epochs (k,), params (k, n))`` of contestant ``name``'s recorded path, ending at its current weights
        (a race halted mid-epoch: the point where it halted, at a fractional epoch).  Read it while the race is
        paused or after it ended (the weights change during a mini-batch)."""
        epochs, params = self.trajectories[name].points()
        flat = self.runs[name].model.params.flat
        if len(params) == 0 or not np.array_equal(params[-1], flat, equal_nan=True):
            steps = max(1, -(-len(self._X_train) // self.train_config.batch_size))
            at = self.step / steps if self.runs[name].active else (epochs[-1] if len(epochs) else 0.0)
            epochs = np.append(epochs, at)
            params = np.concatenate([params.reshape(-1, flat.size), flat[None, :].astype(params.dtype)])
        return epochs, params

    def predict_raw(self, name: str, X) -> np.ndarray:
        """A contestant's predictions for scaled windows X, in the series' own units."""
        y = self.runs[name].model.predict(X).astype(np.float64)
        return np.asarray(self.prepared.scaler.inverse_transform(y))

    def result(self) -> dict:
        """Test metrics in the series' units for every contestant and both baselines, plus histories.

        A diverged run has no test metrics (``None``); its history up to the divergence is kept.
        """
        p = self.prepared
        y_true = np.asarray(p.y_test_raw, dtype=np.float64)
        runs = []
        for name, run in self.runs.items():
            if run.status == "diverged" or not run.history:
                test, pred = None, None
            else:
                pred = self.predict_raw(name, p.X_test)
                test = regression_metrics(y_true, pred)
            runs.append(
                {
                    "name": name,
                    "optimizer": run.contestant.optimizer,
                    "flavor": run.contestant.flavor,
                    "hyperparams": run.opt.hyperparams(),
                    "status": run.status,
                    "test": test,
                    "best_epoch": run.best_epoch,
                    "stopped_epoch": run.stopped_epoch,
                    "diverged": run.status == "diverged",
                    "diverged_step": run.diverged_step,
                    "diverged_epoch": run.diverged_epoch,
                    "diverged_reason": run.diverged_reason,
                    "seconds": run.seconds,
                    "history": [asdict(h) for h in run.history],
                    "test_pred": None if pred is None else pred.tolist(),
                }
            )
        return {
            "model": asdict(self.model_config),
            "train": asdict(self.train_config),
            "epochs_run": self.epoch,
            "steps": self.step,
            "interventions": [dict(iv) for iv in self.interventions],
            "pauses": [dict(p) for p in self.pauses],
            "runs": runs,
            "baselines": baseline_metrics(p),
        }


def recursive_forecast(model: GRURegressor, scaler, last_window_raw, steps: int) -> np.ndarray:
    """Forecast ``steps`` values past the end of a series by feeding predictions back in.

    ``last_window_raw``: the last ``lookback`` values in the series' own units.  With a horizon > 1
    every call contributes all of its ``horizon`` values.  Returns (steps,) in the series' units.
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    window = np.asarray(scaler.transform(np.asarray(last_window_raw, dtype=np.float64)), dtype=np.float64)
    window = window.reshape(-1)
    out: list[float] = []
    while len(out) < steps:
        y = model.predict(window[None, :, None])[0].astype(np.float64)  # (horizon,) scaled
        out.extend(y.tolist())
        window = np.concatenate([window[len(y) :], y])[-len(window) :]
    return np.asarray(scaler.inverse_transform(np.asarray(out[:steps])), dtype=np.float64)
