"""The folder the gateway serves, as a results database: which run a request means, and which runs a list asks for.

The gateway is started on one folder: a run folder (a database of one run) or a folder of many runs
(commentslab.services.common.run_index). A request names a run by its id, the run folder's path relative to
the served folder as the index lists it; only ids the index found are served, so no id reaches a file
outside the folder, and an id that is not even shaped like one (absolute, ``..``, a NUL) is refused before
the index is consulted. A request that names no run gets the default run: the served folder when it is a
run, else its reference run, else the first run that can be read.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from commentslab.services.common.layout import LAYOUT_FILE, RESULTS_FILE
from commentslab.services.common.run_index import ROOT_ID, VERDICTS, RunEntry, RunIndex, find_runs
from commentslab.services.gateway.results_store import ResultsError

MAX_RUN_ID = 500
# How long one scan of the folder answers requests: a run that finishes shows within this, and a page that
# asks for the list and then a run reads the folder once.
RESCAN_SECONDS = 2.0
REFERENCE_NAME = "reference"
# Query parameter -> the index's name for the value it filters on.
FILTERS = {"scenario": "scenario", "model": "base_model", "profile": "profile"}


class RunRequestError(ValueError):
    """A run id or a filter that cannot be served; ``parameter`` names the query parameter, ``status`` the HTTP
    status (400: malformed; 404: well formed but no such run)."""

    def __init__(self, parameter: str, message: str, status: int = 400):
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.status = status


def check_run_id(run_id: str) -> None:
    """``RunRequestError`` (400) unless ``run_id`` is shaped like an id the index gives: ``.`` or a relative
    POSIX path of plain names (no ``..``, ``.``, empty part, backslash, control character or leading ``/``)."""
    if run_id == ROOT_ID:
        return
    if not run_id or len(run_id) > MAX_RUN_ID:
        raise RunRequestError("run", f"a run id has 1 to {MAX_RUN_ID} characters; /api/runs lists the ids")
    if any(ord(c) < 32 or ord(c) == 127 for c in run_id) or "\\" in run_id:
        raise RunRequestError("run", "a run id holds no control character or backslash; /api/runs lists the ids")
    if run_id.startswith("/") or any(part in ("", ".", "..") for part in run_id.split("/")):
        raise RunRequestError("run", "a run id is a folder relative to the served folder, without '.', '..' or "
                                     "empty parts (e.g. humaneval/smoke); /api/runs lists the ids")


@dataclass
class RunDatabase:
    """The served ``folder`` and its index, scanned again at most every RESCAN_SECONDS."""

    folder: Path

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)
        self._lock = threading.Lock()
        self._index: RunIndex | None = None
        self._error: ResultsError | None = None
        self._scanned = float("-inf")

    def index(self) -> RunIndex:
        """The runs in the folder; ``ResultsError`` when the folder does not exist."""
        with self._lock:
            if time.monotonic() - self._scanned > RESCAN_SECONDS:
                try:
                    self._index, self._error = find_runs(self.folder), None
                except ResultsError as error:
                    self._index, self._error = None, error
                self._scanned = time.monotonic()
            if self._error is not None:
                raise self._error
            assert self._index is not None
            return self._index

    def is_single_run(self) -> bool:
        """Whether the served folder is itself a run folder (finished or in progress)."""
        return (self.folder / RESULTS_FILE).exists() or (self.folder / LAYOUT_FILE).exists()

    def default_entry(self) -> RunEntry | None:
        """The run shown when none is named: the reference run, else the first readable, else the first."""
        try:
            index = self.index()
        except ResultsError:
            return None
        reference = [e for e in index.runs if e.run_id.rsplit("/", 1)[-1] == REFERENCE_NAME]
        return (reference or list(index.runs) or list(index.entries) or [None])[0]

    def run_dir(self, run_id: str | None) -> Path:
        """The folder of run ``run_id`` (None: the default run; the served folder when it holds none, so
        reading it says what is missing). ``RunRequestError`` for a malformed id (400) or one the index does
        not list (404)."""
        if run_id is None:
            if self.is_single_run():
                return self.folder
            entry = self.default_entry()
            return entry.path if entry is not None else self.folder
        check_run_id(run_id)
        try:
            entry = self.index().get(run_id)
        except ResultsError:
            entry = None
        if entry is None:
            raise RunRequestError("run", f"no run {run_id!r} in the served folder; /api/runs lists the runs", 404)
        return entry.path

    def select(self, scenario: str | None = None, model: str | None = None, profile: str | None = None,
               verdict: str | None = None) -> list[RunEntry]:
        """The runs matching every filter given; ``RunRequestError`` naming the parameter whose value no run has
        (with the values there are) or a verdict that is not one of VERDICTS."""
        index = self.index()
        given = {"scenario": scenario, "model": model, "profile": profile}
        for parameter, value in given.items():
            known = index.values(FILTERS[parameter])
            if value is not None and value not in known:
                raise RunRequestError(parameter, f"no run has {parameter} {value!r}; the runs have "
                                                 f"{', '.join(known) or 'none'}")
        if verdict is not None and verdict not in VERDICTS:
            raise RunRequestError("verdict", f"{verdict!r} is not a verdict: choose one of {', '.join(VERDICTS)}")
        return index.select(scenario=scenario, base_model=model, profile=profile, verdict=verdict)
