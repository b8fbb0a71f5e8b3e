"""Learning rates changed during a race: asking the engine for a change, which changes are still pending,
merging several changes made in one pause, describing them, and the run's configuration with every change
it made (the link and the JSON export replay it exactly).

No Streamlit import.  The engine applies and records the changes (``LiveRace.set_lr``); this module
only reads its records and the page's own list of what was asked (``RaceHandle.asked``).
"""

from __future__ import annotations

import math
from typing import Any

from gru_core.config import RunConfig, to_query
from gru_core.fmt import num
from gru_core.train.live import Snapshot
from gru_ui.figures import step_to_epoch

from .session import RaceHandle, configured_lr

__all__ = ["base_lrs", "changes", "describe_interventions", "merge_changes", "pending_changes", "set_lr",
           "share_config", "share_query"]  # fmt: skip


def set_lr(handle: RaceHandle, name: str, value: float) -> None:
    """Change one contestant's learning rate from the next mini-batch on (the engine records it)."""
    snap = handle.live.snapshot()
    old = base_lrs(handle, snap).get(name)
    at = handle.live.set_lr(name, value)  # a race over several seeds says where (it aligns the seeds first)
    handle.asked.append({"optimizer": name, "new": float(value), "old": old,
                         "step": int(at) if at is not None else snap.step + 1})  # fmt: skip


def base_lrs(handle: RaceHandle, snap: Snapshot) -> dict[str, float]:
    """Each contestant's learning rate before any schedule: its configured value, then every applied
    change in order, then the asked-for changes not applied yet (:func:`pending_changes`)."""
    out = {name: configured_lr(c) for name, c in handle.contestants.items()}
    for iv in snap.interventions:
        if iv.get("field", "lr") == "lr" and iv.get("optimizer") in out:
            out[iv["optimizer"]] = float(iv["new"])
    for iv in pending_changes(handle, snap):
        out[iv["optimizer"]] = float(iv["new"])
    return out


def pending_changes(handle: RaceHandle, snap: Snapshot) -> list[dict]:
    """Learning rates asked for on the page that the engine has not applied yet (it applies them
    before the next mini-batch): each asked change is matched, in order, to an applied one."""
    applied = [iv for iv in snap.interventions if iv.get("field", "lr") == "lr"]
    used = [False] * len(applied)
    pending = []
    for a in handle.asked:
        for i, iv in enumerate(applied):
            if not used[i] and iv["optimizer"] == a["optimizer"] and iv["new"] == a["new"] and iv["step"] >= a["step"]:
                used[i] = True
                break
        else:
            pending.append({**a, "pending": True, "field": "lr"})
    return pending


def merge_changes(interventions: list[dict]) -> list[dict]:
    """One change per optimizer and step: a teacher sliding 0.001 → 0.002 → 0.005 during one pause makes
    several changes that all take effect before the same mini-batch; they act as one, 0.001 → 0.005 (the
    first ``old``, the last ``new``), and are drawn, described and shared as one.  Order is kept."""
    out: list[dict] = []
    index: dict[tuple, int] = {}
    for iv in interventions:
        k = (iv.get("optimizer"), iv.get("step"), bool(iv.get("pending")))
        if k in index:
            out[index[k]] = {**out[index[k]], "new": iv["new"]}
        else:
            index[k] = len(out)
            out.append(dict(iv))
    return out


def changes(handle: RaceHandle, snap: Snapshot) -> list[dict]:
    """Every learning-rate change of the race for display: applied ones, then pending ones (``pending``),
    merged per optimizer and step (:func:`merge_changes`)."""
    return merge_changes([dict(iv) for iv in snap.interventions] + pending_changes(handle, snap))


def share_config(handle: Any, snap: Any) -> RunConfig:
    """The run's configuration with every learning-rate change it made (a link to it replays them)."""
    applied = [
        {"step": int(iv["step"]), "optimizer": iv["optimizer"], "field": "lr", "new": float(iv["new"])}
        for iv in merge_changes(list(snap.interventions))
        if iv.get("field", "lr") == "lr"
    ]
    # replayed changes the race has not reached yet stay in the link (a change for step s is applied just
    # before step s runs, so every one with step <= snap.step is among the applied ones)
    ahead = [dict(iv) for iv in handle.cfg.interventions if int(iv["step"]) > snap.step]
    cfg = handle.cfg.replace()
    cfg.interventions = applied + ahead
    return cfg


def share_query(handle: RaceHandle, snap: Snapshot) -> dict[str, Any]:
    """The URL query parameters that replay this run (learning-rate changes included)."""
    return to_query(share_config(handle, snap))


def describe_interventions(interventions: list[dict], steps_per_epoch: int | None = None) -> list[str]:
    """One line per learning-rate change: "Adam: lr → 0.05 from step 123 (epoch 4.9)"."""
    out = []
    for iv in interventions:
        where = f"from step {int(iv['step'])}"
        if steps_per_epoch:
            where += f" (epoch {num(step_to_epoch(int(iv['step']) - 1, steps_per_epoch), '.2f')})"
        old = iv.get("old")
        was = f"{num(old, 3)} → " if old is not None and math.isfinite(float(old)) else "→ "
        out.append(f"{iv['optimizer']}: lr {was}{num(float(iv['new']), 3)} {where}")
    return out
