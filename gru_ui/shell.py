"""What every page shares: the app frame, the display toggles, charts, captions, the URL and the run store.

* :func:`app_frame`: first line of every page (the page runs inside ``app.py``'s navigation).
* :func:`keep`, :func:`init_settings`, :func:`keep_settings`: every page's settings outlive the page (Streamlit
  forgets the state of the widgets a run does not draw).
* :func:`display_toggles`, :func:`explain`, :func:`presenting`, :func:`chart`: the two sidebar switches
  every page has ("Show explanations", "Presentation mode") and the way every chart is drawn.
* :func:`query_dict`, :func:`set_query`, :func:`show_query_notices`: a page's settings in its URL.
* :func:`store_picker` and the store-choice rules: which run store (SQLite) a visitor may open.

Session keys every page may read: ``st.session_state["presentation"]`` (:data:`PRESENT_KEY`) and
``st.session_state["show_explanations"]`` (:data:`EXPLAIN_KEY`); both are plain keys, so they follow a
visitor from page to page.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import streamlit as st

from gru_core.store import RunStore, StoreError, default_store_path
from gru_ui.figures import chart_config, present
from gru_ui.figures.present import PRESENTATION_KEY
from gru_ui.limits import UPLOAD_MB, UPLOAD_ROWS

EXPLAIN_KEY = "show_explanations"  # session key: captions under the charts shown (bool)
PRESENT_KEY = PRESENTATION_KEY  # session key: presentation mode (bool)
FRAME_KEY = "_app_frame_seen"  # session key: app_frame() has run in this session (bool)
NOTICES_KEY = "qp_notices"  # session key: what the link carried that was ignored (list of str)
KEPT_KEYS = "_kept.keys"  # session key: the widget keys that hold a page's settings (set of str)
KEPT_VALUES = "_kept.values"  # session key: their last values (dict), restored when Streamlit dropped them


# ----------------------------------------------------------------------------------------------------------
# settings that outlive their page
# ----------------------------------------------------------------------------------------------------------


def keep(keys) -> None:
    """Register widget keys as settings that outlive their page (see :func:`keep_settings`).  Only keys of
    widgets whose value may be set (no buttons, file boxes or table selections)."""
    st.session_state.setdefault(KEPT_KEYS, set()).update(keys)


def init_settings(defaults: Mapping[str, Any]) -> None:
    """A page's settings: kept across pages (:func:`keep`); a missing one gets its last kept value, else its
    default."""
    ss = st.session_state
    keep(defaults)
    kept = ss.get(KEPT_VALUES, {})
    for key, value in defaults.items():
        if key not in ss:
            ss[key] = kept.get(key, value)


def keep_settings() -> None:
    """Called by :func:`app_frame` (the first line of every page) before the page draws: remember every kept
    setting's value, and put back those Streamlit dropped.

    Streamlit deletes a widget's state at the end of a run that did not draw it, so after a visit to another
    page the race page read "SGD vs SGD #2" with every sidebar widget at its lowest value (and rewrote the
    address bar to match).  A value put back here is the session's own until its widget is drawn again.
    """
    ss = st.session_state
    kept = ss.setdefault(KEPT_VALUES, {})
    for key in ss.get(KEPT_KEYS, ()):
        if key in ss:
            kept[key] = ss[key]
        elif key in kept:
            ss[key] = kept[key]


# ----------------------------------------------------------------------------------------------------------
# the frame and the display switches
# ----------------------------------------------------------------------------------------------------------


def app_frame() -> None:
    """Call first on every page: the settings kept across pages are put back (:func:`keep_settings`), and the
    page runs inside ``app.py``'s frame (its navigation, page config and session set-up), also when a fresh
    server's very first visitor opens a page's own URL.

    Streamlit (1.67) starts every server in its old "pages/ folder" mode, which runs ``pages/<name>.py`` on
    its own for the URL ``/<name>`` and lists the folder in the sidebar; only a run of ``app.py`` (its
    ``st.navigation``) switches that off, for the whole server.  So a shared link to ``/optimizer_lab``
    opened before anyone visited ``/`` drew the page without the app.  Switching the mode off here and
    rerunning runs ``app.py``, which finds the same page again (a page's id is its URL path in both modes).
    Under ``AppTest.from_file("pages/…")`` the mode is never on, so nothing happens; ``AppTest`` of
    ``app.py`` turns it on again before every run, hence the rerun on a session's first run only.
    """
    keep_settings()  # every page's settings outlive the page: put back what Streamlit dropped on a page change
    try:  # Streamlit's internals: a version without this class has no such mode to switch off
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:
        return
    first = not st.session_state.get(FRAME_KEY)
    st.session_state[FRAME_KEY] = True
    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        if first:  # only on a session's first run: a rerun later would drop the click that caused this run
            st.rerun()


def init_display() -> None:
    """The display settings every page shares, with their defaults (idempotent); a link's ``present=1`` turns
    presentation mode on when the session starts."""
    if PRESENT_KEY not in st.session_state:
        st.session_state[PRESENT_KEY] = st.query_params.get(PRESENT_PARAM, "") in ("1", "true", "yes")
    st.session_state.setdefault(EXPLAIN_KEY, True)


def _copy_toggle(widget_key: str, key: str) -> None:
    st.session_state[key] = bool(st.session_state.get(widget_key))
    if key == PRESENT_KEY and not st.session_state[key]:
        st.session_state[SIDEBAR_KEY] = "expanded"  # presentation over: the sidebar comes back


SIDEBAR_KEY = "_sidebar_state"  # session key: the sidebar's state for app.py's page config ("expanded"/"collapsed")


def _hide_sidebar() -> None:
    st.session_state[SIDEBAR_KEY] = "collapsed"


def sidebar_state() -> str:
    """The sidebar's state for ``st.set_page_config``.  Streamlit acts when it changes, so "collapsed" stays
    (the › arrow still brings the sidebar back) until presentation mode is turned off."""
    return st.session_state.get(SIDEBAR_KEY, "expanded")


def display_toggles() -> None:
    """Two sidebar toggles: "Show explanations" and "Presentation mode" (for projectors).

    Their values live under plain session keys (:data:`EXPLAIN_KEY`, :data:`PRESENT_KEY`), not the widget
    keys, so they survive switching pages (Streamlit forgets the state of widgets a page does not draw).
    """
    for label, key, help_text in (
        ("Show explanations", EXPLAIN_KEY, "A sentence or two under every chart on what to look for. Turn "
         "off for a cleaner screen."),
        ("Presentation mode", PRESENT_KEY, "Larger text, thicker lines and bigger markers, for a projector. "
         "Colours stay the same."),
    ):  # fmt: skip
        st.session_state.setdefault(key, key == EXPLAIN_KEY)
        wkey = f"_w.{key}"
        st.session_state[wkey] = bool(st.session_state[key])
        st.toggle(label, key=wkey, on_change=_copy_toggle, args=(wkey, key), help=help_text)
    if st.session_state.get(PRESENT_KEY):
        st.button("⇤ Hide this sidebar", key="btn.hide_sidebar", on_click=_hide_sidebar,
                  help="More room for the charts on a projector. The › arrow at the top left brings it "
                  "back.")  # fmt: skip
        st.html(
            "<style>section.main .block-container, [data-testid='stMainBlockContainer'] {font-size: 1.2rem;}"
            "[data-testid='stMainBlockContainer'] [data-testid='stMarkdownContainer'] p,"
            "[data-testid='stMainBlockContainer'] [data-testid='stMarkdownContainer'] li {font-size: 1.2rem;}"
            "[data-testid='stMainBlockContainer'] [data-testid='stCaptionContainer'] {font-size: 1.05rem;}"
            "[data-testid='stMainBlockContainer'] [data-testid='stDataFrame'],"
            "[data-testid='stMainBlockContainer'] [data-testid='stTable'] {zoom: 1.25;}"
            "</style>"
        )


def explain(text: str, **kwargs: Any) -> None:
    """A caption under a chart saying what to look for; hidden when "Show explanations" is off."""
    if st.session_state.get(EXPLAIN_KEY, True):
        st.caption(text, **kwargs)


def presenting() -> bool:
    return bool(st.session_state.get(PRESENT_KEY, False))


def chart(fig: Any, key: str, name: str, **kwargs: Any) -> None:
    """Draw a Plotly figure the way every page does: in presentation mode when the toggle is on, with
    Plotly's own theme (not Streamlit's, which would override the colour-blind-safe palette), and a camera
    button that saves a 2x PNG called ``name``.  ``kwargs`` go to ``st.plotly_chart``."""
    st.plotly_chart(present(fig, presenting()), key=key, config=chart_config(name), theme=None, **kwargs)


# ----------------------------------------------------------------------------------------------------------
# the URL
# ----------------------------------------------------------------------------------------------------------


PRESENT_PARAM = "present"  # the URL's display parameter: present=1 opens the page in presentation mode


def query_dict() -> dict[str, list[str]]:
    """The page's query parameters, every value as a list (the display parameter left out: see
    :func:`init_display`)."""
    qp = st.query_params
    return {k: qp.get_all(k) for k in qp.keys() if k != PRESENT_PARAM}


def set_query(params: Mapping[str, Any]) -> None:
    """Make the URL's query parameters equal ``params`` (so the address bar is a shareable link), plus
    ``present=1`` while presentation mode is on: a link opens the way it was shown."""
    params = dict(params)
    if st.session_state.get(PRESENT_KEY):
        params[PRESENT_PARAM] = "1"
    want = {k: (list(v) if isinstance(v, (list, tuple)) else [v]) for k, v in params.items()}
    have = {k: st.query_params.get_all(k) for k in st.query_params.keys()}
    if have != want:
        st.query_params.from_dict(params)


def _no_backticks(text: str) -> str:
    return text.replace("`", "'")


def show_query_notices() -> None:
    notices = st.session_state.get(NOTICES_KEY) or []
    if notices:
        shown = notices[:20]
        more = f"\n- … and {len(notices) - 20} more" if len(notices) > 20 else ""
        st.warning(
            "Some settings in the link were ignored and the defaults used instead:\n"
            + "\n".join(f"- `{_no_backticks(n)}`" for n in shown)
            + more,
            icon="⚠️",
        )


# ----------------------------------------------------------------------------------------------------------
# the run store
# ----------------------------------------------------------------------------------------------------------


def default_path() -> str:
    """The store the pages open first: ``$GRU_LAB_STORE`` or ``~/.gru_lab/runs.sqlite``."""
    return str(default_store_path())


STORE_ANY_PATH_ENV = "GRU_LAB_STORE_ANY_PATH"  # "1": the pages may open a store anywhere (single-user machine)
STORE_SUFFIXES = (".sqlite", ".sqlite3", ".db")
_STORE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def store_folder() -> Path:
    """The folder whose store files the pages may open: the default store's (``$GRU_LAB_STORE``'s)."""
    return default_store_path().expanduser().resolve().parent


def resolve_store_choice(text: str) -> tuple[str | None, str | None]:
    """What a visitor typed as the run store, checked: ``(path, None)`` or ``(None, why not)``.

    A page is open to whoever reaches the server, and opening a store creates the file and an ``uploads``
    folder beside it, so a visitor may only name a store file *inside* :func:`store_folder` (a bare file
    name such as ``class-2026.sqlite``, or a path that lands there).  Anywhere else is refused, unless the
    person who started the server set ``GRU_LAB_STORE_ANY_PATH=1`` (a single-user machine).
    """
    raw = (text or "").strip()
    if not raw:
        return None, "Give the name of a run store file, for example runs.sqlite."
    if os.environ.get(STORE_ANY_PATH_ENV) == "1":
        return str(Path(raw).expanduser()), None
    folder = store_folder()
    p = Path(raw).expanduser()
    p = (p if p.is_absolute() else folder / p).resolve()
    if p.parent != folder:
        return None, (
            f"From the page, run stores can only be opened in {folder} (the folder of the server's store). "
            f"Give a file name such as runs.sqlite; to allow any path on a single-user machine, start the app "
            f"with {STORE_ANY_PATH_ENV}=1."
        )
    if not _STORE_NAME.fullmatch(p.name) or p.suffix.lower() not in STORE_SUFFIXES:
        return None, (
            f"{p.name!r} is not a store file name: use letters, digits, '-', '_' and '.', ending in "
            f"{', '.join(STORE_SUFFIXES)}."
        )
    return str(p), None


def open_store(path: str) -> tuple[RunStore | None, str | None]:
    """``(store, None)`` or ``(None, why not)``: never raises."""
    p = (path or "").strip()
    if not p:
        return None, "Give the path of a run store file (for example ~/.gru_lab/runs.sqlite)."
    try:
        return RunStore(p), None
    except (StoreError, OSError, ValueError) as exc:
        return None, f"Cannot open the run store {p}: {exc}"


STORE_KEY, STORE_WIDGET = "store_path", "store.w.path"  # session keys: the run store in use, its text box
STORE_ERROR_KEY = "store.error"  # session key: why the last store typed in was refused


def _set_store_path(on_change: Callable[[], None] | None) -> None:
    ss = st.session_state
    path, error = resolve_store_choice(str(ss[STORE_WIDGET]))
    ss[STORE_ERROR_KEY] = error
    if path is not None:
        ss[STORE_KEY] = path
    if on_change is not None:
        on_change()


def store_picker(help_text: str, caption: str, on_change: Callable[[], None] | None = None) -> None:
    """The Sweep and Run history pages' "Store file" box (in the sidebar): the store both pages use, kept
    under :data:`STORE_KEY`.  What a visitor types is checked by
    :func:`resolve_store_choice` (only files in the server's store folder); a refused
    entry keeps the store in use and says why.  ``caption`` is formatted with ``path``."""
    ss = st.session_state
    ss.setdefault(STORE_KEY, default_path())
    ss.setdefault(STORE_WIDGET, ss[STORE_KEY])
    st.header("Run store")
    st.text_input(
        "Store file (SQLite)",
        key=STORE_WIDGET,
        on_change=_set_store_path,
        args=(on_change,),
        help=f"{help_text} Default: $GRU_LAB_STORE or ~/.gru_lab/runs.sqlite. Other files can be opened from "
        f"the same folder ({store_folder()}).",
    )
    if ss.get(STORE_ERROR_KEY):
        st.error(ss[STORE_ERROR_KEY])
    st.caption(caption.format(path=ss[STORE_KEY]))


class KeptFile:
    """An uploaded file kept in the session (its name and bytes), read like Streamlit's ``UploadedFile``."""

    def __init__(self, name: str, data: bytes):
        self.name, self._data = name, data

    def getvalue(self) -> bytes:
        return self._data


def _kept_key(key: str) -> str:
    return f"_kept.upload.{key}"


def _upload_changed(key: str) -> None:
    """The visitor uploaded a file (kept in the session) or removed it with ✕ (forgotten)."""
    up = st.session_state.get(key)
    if up is None:
        st.session_state.pop(_kept_key(key), None)
    else:
        st.session_state[_kept_key(key)] = KeptFile(up.name, up.getvalue())


def csv_uploader(key: str, help_text: str) -> Any:
    """The CSV file box every page uses, with the server's limits (:data:`UPLOAD_MB`, :data:`UPLOAD_ROWS`).

    The file outlives the page: Streamlit empties a file box when its page is left, so the last uploaded file
    is kept in the session and used again on return (a :class:`KeptFile`), until the visitor removes it or
    uploads another."""
    up = st.file_uploader(
        f"CSV file (at most {UPLOAD_MB} MB, {UPLOAD_ROWS:,} rows)",
        type=["csv", "txt", "tsv"],
        key=key,
        max_upload_size=UPLOAD_MB,
        on_change=_upload_changed,
        args=(key,),
        help="One row per date; a date column (optional) and at least one numeric column. " + help_text,
    )
    if up is not None:
        if _kept_key(key) not in st.session_state:  # uploaded before this rule existed, or set by a test
            st.session_state[_kept_key(key)] = KeptFile(up.name, up.getvalue())
        return up
    kept = st.session_state.get(_kept_key(key))
    if kept is not None:
        c1, c2 = st.columns([4, 1], vertical_alignment="center")
        c1.caption(f"Using **{kept.name}**, uploaded earlier in this session. Upload another file to replace it.")
        c2.button("✕", key=f"{key}.forget", help=f"Forget {kept.name}", on_click=st.session_state.pop,
                  args=(_kept_key(key), None))  # fmt: skip
    return kept
