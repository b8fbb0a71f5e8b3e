"""Command-line options made from the settings table, and the run configuration they describe.

Every option of a run (``--hidden-size``, ``--lookback``, ``--patience``, …) is generated from
:data:`gru_core.config.SETTINGS`: its type, choices, default and help come from the setting's field, and
``compare`` and ``sweep`` share them.  A setting added to :mod:`gru_core.config` appears here without an
edit.  Old spellings stay accepted (``--hidden``, ``--layers``, ``--clip``, ``--data``).
"""

from __future__ import annotations

import argparse
from typing import Any

from gru_core.config import (
    FLAVORS,
    SETTINGS,
    USER_SETTINGS,
    Contestant,
    RunConfig,
    format_value,
    parse_params,
    parse_seeds,
    parse_value,  # fmt: skip
)
from gru_core.optim import OPTIMIZERS

__all__ = ["add_contestant_options", "add_run_options", "run_config_from_args"]

GROUPS = {"data": "data", "model": "model", "train": "training"}


def _typed(name: str):
    def convert(text: str) -> Any:
        try:
            return parse_value(name, text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = SETTINGS[name].kind  # argparse names the type in its error message
    return convert


def add_run_options(parser: argparse.ArgumentParser, title: str = "") -> None:
    """One option per user setting, in groups data / model / training."""
    groups: dict[str, Any] = {}
    for name in USER_SETTINGS:
        s = SETTINGS[name]
        if s.section not in groups:
            groups[s.section] = parser.add_argument_group(f"{GROUPS[s.section]}{title}")
        g = groups[s.section]
        flags = [s.flag, *s.cli]
        default = s.default if not isinstance(s.default, tuple) else s.default
        shown = "" if s.default in (None, "", {}) else f" (default: {format_value(s.default)})"
        if s.kind == "bool":
            g.add_argument(*flags, dest=name, action=argparse.BooleanOptionalAction, default=default, help=s.help)
        elif s.kind == "params":
            g.add_argument(*flags, dest=name, action="append", metavar="KEY=VALUE", default=None,
                           help=s.help + " (repeatable; dataset names only), e.g. length=500 noise=0.1")  # fmt: skip
        elif s.kind == "choice":
            g.add_argument(*flags, dest=name, choices=s.choices, default=default, help=s.help + shown)
        else:
            metavar = "TRAIN,VAL,TEST" if s.kind == "split" else None
            g.add_argument(*flags, dest=name, type=_typed(name), default=default, metavar=metavar,
                           help=s.help + shown)  # fmt: skip


def add_contestant_options(parser: argparse.ArgumentParser, seeds_help: str) -> None:
    """``--optimizers``, ``--flavor``, ``--lr`` (every optimizer's) and ``--seeds``."""
    g = parser.add_argument_group("optimizers and seeds")
    g.add_argument("--optimizers", default="adam,rmsprop", help="comma-separated: " + ",".join(OPTIMIZERS))
    g.add_argument("--flavor", choices=FLAVORS, default="pytorch",
                   help="update rules and defaults where Keras differs (keras: eps 1e-7, RMSprop rho 0.9)")  # fmt: skip
    g.add_argument("--lr", type=float, default=None, help="learning rate of every optimizer (default: each one's)")
    g.add_argument("--seeds", default=None, help=seeds_help)
    g.add_argument("--seed", type=int, default=None, help="one seed (the same as --seeds N,)")


def run_config_from_args(args: argparse.Namespace) -> RunConfig:
    """The :class:`RunConfig` the options describe (ValueError naming a wrong option)."""
    contestants = []
    for n in (n.strip().lower() for n in args.optimizers.split(",")):
        if not n:
            continue
        if n not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {n!r}; choose from {', '.join(OPTIMIZERS)}")
        flavor = args.flavor if args.flavor in OPTIMIZERS[n].flavors else "pytorch"
        contestants.append(Contestant(n, flavor=flavor, hyper={"lr": args.lr} if args.lr is not None else {}))
    if args.seed is not None and args.seeds is not None:
        raise ValueError("give --seed or --seeds, not both")
    seeds = [args.seed] if args.seed is not None else parse_seeds(args.seeds) if args.seeds is not None else [0]
    values = {n: getattr(args, n) for n in USER_SETTINGS}
    values["params"] = parse_params(values["params"])
    cfg = RunConfig(contestants=contestants, seeds=seeds).replace(**values)
    cfg.validate()
    return cfg
