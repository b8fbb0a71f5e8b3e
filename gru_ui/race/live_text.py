"""The live race in words, without Streamlit: its heading line ("Training: epoch 12 / 80 · 3.1 s · 375 training
steps/s") and each optimizer's status (state, losses, gradient norm, update size, learning rate, progress) as HTML,
and :func:`stamp`, what the page's buttons and learning-rate controls were drawn for.

One text for both ways the page updates them.  Where the server has the live route (``streamlit run app.py``) the
route serves them (:mod:`gru_ui.race.live_route`) and the page's live elements swap them in by themselves while the
race trains: no Streamlit rerun, which would make the browser re-render the whole page (bench/bench_browser.py: the
fragments' reruns were the largest part of what an open page cost the race).  Without it (AppTest) the page's
fragments draw the same text with ``st.markdown``.
"""

from __future__ import annotations

import html
import json
import math

from gru_core.fmt import num
from gru_core.train.live import Snapshot
from gru_ui import figures as F

from . import changes as C
from .live import LIVE_STATUSES
from .session import RaceHandle, progress, shown_seed_text, steps_per_second

__all__ = ["STATUS_TEXT", "changes_line", "color", "heading", "lr_state", "per_row", "stamp",
           "status_block",
           "status_column"]  # fmt: skip

STATUS_TEXT = {"running": "training", "paused": "paused", "finished": "finished", "early_stopped": "early stop",
               "stopped": "stopped", "diverged": "DIVERGED"}  # fmt: skip
STATE_TEXT = {"running": "Training", "paused": "‖ Paused", "finished": "Finished", "stopped": "Stopped",
              "error": "Error", "idle": "Starting", "cancelled": "Cancelled", "queued": "Waiting"}  # fmt: skip
RED = "var(--st-red-text-color, #bd4043)"  # Streamlit's red text (its CSS variable inside a live element)


def heading(handle: RaceHandle, snap: Snapshot) -> str:
    """The race's status line, plain text: "Training: epoch 12 / 80 · 3.1 s · 375 training steps/s", "‖ Paused at
    epoch 5 / 80 · step 130 (4 of 26 mini-batches into epoch 6)"; over several seeds the slowest and fastest seed's
    epochs and how many seeds still wait for a worker."""
    total = max(1, snap.total_epochs)
    state = STATE_TEXT.get(snap.status, snap.status)
    if snap.per_seed:
        snaps = snap.per_seed
        epochs = [s.epoch for s in snaps]
        where = f"epoch {min(epochs)}" + (f"–{max(epochs)}" if max(epochs) != min(epochs) else "") + f" / {total}"
        waiting = sum(1 for s in snaps if s.status == "queued")
        wait = f" · {waiting} waiting for a worker" if waiting else ""
        rate = sum(s.step for s in snaps) / snap.elapsed if snap.elapsed > 0 else 0.0
        speed = f" · {num(rate, ',.0f')} training steps/s (all seeds)" if rate and snap.status == "running" else ""
        if snap.status == "paused":  # "‖ Paused at epoch 5–6 / 60 · 3 seeds", as a one-seed race says it
            return f"{state} at {where} · {len(snaps)} seeds{wait}"
        return f"{state}: {where} · {len(snaps)} seeds · {num(snap.elapsed, '.1f')} s{speed}{wait}"
    done = steps_per_second(snap)
    speed = f" · {num(done, ',.0f')} training steps/s" if done and snap.status != "paused" else ""
    where = f"epoch {snap.epoch} / {total}"
    if snap.status == "paused":
        within = snap.step - snap.epoch * handle.n_batches
        where += f" · step {snap.step:,}" + (
            f" ({within} of {handle.n_batches} mini-batches into epoch {snap.epoch + 1})" if within > 0 else ""
        )
        return f"{state} at {where}"
    return f"{state}: {where} · {num(snap.elapsed, '.1f')} s{speed}"


def _rows(run: dict, snap: Snapshot, lr_now: str) -> list[tuple[str, str]]:
    ratio = run.get("update_ratio")
    share = f" ({num(100 * ratio, '.2g')} % of ‖θ‖)" if ratio is not None and math.isfinite(ratio) else ""
    return [
        ("epoch", f"{run.get('epoch', 0)} / {snap.total_epochs}"),
        ("train loss", num(run.get("train_loss"))),
        ("validation loss", num(run.get("val_loss"))),
        ("best validation", f"{num(run.get('best_val'))} (epoch {run.get('best_epoch') or '—'})"),
        ("gradient norm", num(run.get("grad_norm"), 3)),
        ("update size ‖Δθ‖", num(run.get("update_norm"), 3) + share),
        ("learning rate", lr_now),
    ]


def status_column(handle: RaceHandle, snap: Snapshot, name: str, color: str) -> str:
    """One optimizer's status as one block of HTML: name, state, figures and a progress bar."""
    run = snap.runs.get(name) or {}
    status = run.get("status") or ("training" if snap.status in LIVE_STATUSES else "waiting")
    if status == "running" and snap.status == "paused":
        status = "paused"
    if status == "diverged":
        state = (f"<span style='color:{RED}'><strong>✖ DIVERGED</strong> at step {run.get('diverged_step')} "
                 f"(epoch {run.get('diverged_epoch')})</span>")  # fmt: skip
    elif status == "early_stopped":
        state = f"<strong>⏹ early stop</strong> after epoch {run.get('epoch')} (best: {run.get('best_epoch')})"
    else:
        state = f"<strong>{html.escape(STATUS_TEXT.get(status, status))}</strong>"
    lr_now = num(run.get("lr"), 3)
    if name in {iv["optimizer"] for iv in C.pending_changes(handle, snap)}:
        lr_now += f" → {num(C.base_lrs(handle, snap).get(name), 3)} from the next step"
    rows = "".join(f"<li>{html.escape(a)}: <strong>{html.escape(b)}</strong></li>" for a, b in _rows(run, snap, lr_now))
    done = max(0.0, min(1.0, float(progress(handle, snap, name))))
    return (
        f"<div style='border-left:8px solid {color};padding-left:10px'><span style='font-size:1.35em;"
        f"font-weight:700;color:{color}'>{html.escape(name)}</span></div>"
        f"<p style='margin:0.5em 0'>{state}</p><ul style='margin:0 0 0.5em 0'>{rows}</ul>"
        f"<div role='progressbar' aria-valuenow='{round(100 * done)}' aria-valuemin='0' aria-valuemax='100' "
        f"style='height:6px;border-radius:3px;background:rgba(128,128,128,.25)'><div style='height:6px;"
        f"border-radius:3px;width:{100 * done:.1f}%;background:{color}'></div></div>"
    )


def changes_line(handle: RaceHandle, snap: Snapshot) -> str:
    """"⚙ Learning-rate changes in this run: …" as HTML, or "" when there were none."""
    shown = C.changes(handle, snap)
    if not shown:
        return ""
    lines = C.describe_interventions(shown, handle.n_batches)
    pend = [" (from the next step)" if iv.get("pending") else "" for iv in shown]
    return ("<p><strong>⚙ Learning-rate changes in this run:</strong> "
            + " · ".join(html.escape(t) + p for t, p in zip(lines, pend)) + "</p>")  # fmt: skip


def color(handle: RaceHandle, index: int) -> str:
    """The colour of contestant ``index`` (its curves', its column's)."""
    name = handle.labels[index]
    return handle.colors.get(name) or F.color_for(name, index)


def per_row(handle: RaceHandle) -> int:
    """How many status columns stand side by side."""
    return min(len(handle.labels), 3)


def status_block(handle: RaceHandle, snap: Snapshot) -> str:
    """Everything the status columns show, as one block of HTML for a live element: the seed shown, the
    learning-rate changes, and one column per optimizer, :func:`per_row` side by side."""
    head = f"<p><strong>Each optimizer now{html.escape(shown_seed_text(handle))}</strong></p>" if snap.per_seed else ""
    cells = "".join(f"<div>{status_column(handle, snap, name, color(handle, i))}</div>"
                    for i, name in enumerate(handle.labels))  # fmt: skip
    grid = (f"<div style='display:grid;grid-template-columns:repeat({per_row(handle)},minmax(0,1fr));gap:1rem'>"
            f"{cells}</div>")  # fmt: skip
    return head + changes_line(handle, snap) + grid


def lr_state(handle: RaceHandle, snap: Snapshot) -> dict[str, tuple[float, bool]]:
    """What the learning-rate controls show: each contestant's learning rate and whether it can change now."""
    if snap.status not in LIVE_STATUSES:
        return {}
    base = C.base_lrs(handle, snap)
    return {
        name: (base[name], (snap.runs.get(name) or {}).get("status") in (None, "running"))
        for name in handle.labels
        if name in handle.contestants
    }


def stamp(handle: RaceHandle, snap: Snapshot) -> str:
    """What the page's full run draws from the race besides its live elements: its status (the buttons, the
    sections below) and the learning-rate controls.  The live chart compares the route's stamp with the one it was
    drawn with and asks the page to run again when they differ (paused, ended, a contestant diverged)."""
    return json.dumps([snap.status, sorted((k, v[0], v[1]) for k, v in lr_state(handle, snap).items())])
