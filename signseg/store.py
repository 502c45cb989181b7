"""Results on disk: a tidy table plus arrays, keyed by a hash of the configuration.

A :class:`ResultsStore` is a folder ``<root>/<name>-<hash of config>/`` holding

* ``config.json`` — the configuration the key was computed from;
* ``chunks/<id>.parquet`` — rows of a tidy table (one row per job, e.g. one visualization
  run), and ``chunks/<id>.npz`` — arrays whose first axis matches those rows (best images,
  final codes, trajectories).

Work is written one chunk at a time, array file first and table last, each atomically: a
chunk exists once its table exists, so an interrupted run leaves only complete chunks
behind and :meth:`ResultsStore.missing` tells the next run exactly which jobs remain.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .cache import atomic_path, atomic_write_bytes, atomic_write_text, cache_dir, canonical_json, config_hash
from .errors import DamagedFileError, InvalidInputError
from .files import check_nonempty, damaged, load_npz, read_parquet, warn_recomputing

__all__ = ["ResultsStore"]


class ResultsStore:
    """A content-addressed, resumable store of tidy results and their arrays.

    Parameters
    ----------
    name:
        A readable prefix of the folder name (e.g. ``"visualize"``).
    config:
        JSON-like configuration; its hash is the store's identity.
    key_columns:
        Columns that identify a job (e.g. ``["unit", "sign", "alpha", "generator", "restart"]``).
    root:
        Parent folder; defaults to ``cache_dir("results")``.
    """

    def __init__(
        self,
        name: str,
        config: Mapping[str, Any],
        key_columns: Sequence[str],
        root: str | Path | None = None,
    ) -> None:
        self.config = json.loads(canonical_json(dict(config)))
        self.key_columns = list(key_columns)
        self.key = config_hash({"config": self.config, "keys": self.key_columns})
        self.path = Path(root or cache_dir("results")) / f"{name}-{self.key}"
        (self.path / "chunks").mkdir(parents=True, exist_ok=True)
        config_file = self.path / "config.json"
        if not config_file.exists():
            atomic_write_text(config_file, json.dumps(
                {"config": self.config, "key_columns": self.key_columns}, indent=2))

    # -- reading ---------------------------------------------------------------------------
    def _chunk_ids(self) -> list[str]:
        return sorted(p.stem for p in (self.path / "chunks").glob("*.parquet"))

    def _read_chunk(self, chunk: str) -> pd.DataFrame | None:
        """The rows of ``chunk``, or ``None`` (after removing it) when a file of it is damaged.

        A chunk whose table or array file cannot be read is treated as missing, not as
        complete: its jobs are run again by the next :func:`missing` / write cycle.
        """
        table, arrays = (self.path / "chunks" / f"{chunk}.{ext}" for ext in ("parquet", "npz"))
        fix = "Delete it; its jobs are run again."
        try:
            frame = read_parquet(table, "a results-store chunk table", fix)
            if not arrays.is_file():
                raise damaged(arrays, "is missing although its table exists", fix)
            check_nonempty(arrays, fix)
            if not zipfile.is_zipfile(arrays):
                raise damaged(arrays, "is not a NumPy .npz file (truncated?)", fix)
            absent = [c for c in self.key_columns if c not in frame.columns]
            if absent:
                raise damaged(table, f"lacks the key columns {absent}", fix)
        except DamagedFileError as error:  # our own cache: recompute the chunk's jobs
            warn_recomputing(error, "removed the chunk and runs its jobs again")
            arrays.unlink(missing_ok=True)
            table.unlink(missing_ok=True)
            return None
        return frame

    def table(self) -> pd.DataFrame:
        """All stored rows, with ``chunk`` and ``row`` columns locating their arrays."""
        frames = []
        for chunk in self._chunk_ids():
            frame = self._read_chunk(chunk)
            if frame is None:
                continue
            frame["chunk"] = chunk
            frame["row"] = np.arange(len(frame))
            frames.append(frame)
        if not frames:
            return pd.DataFrame(columns=[*self.key_columns, "chunk", "row"])
        return pd.concat(frames, ignore_index=True)

    def missing(self, jobs: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``jobs`` whose key is not stored yet (in their original order)."""
        self._check_keys(jobs)
        done = self.table()
        if done.empty:
            return jobs.reset_index(drop=True)
        merged = jobs.merge(done[self.key_columns].drop_duplicates(), on=self.key_columns,
                            how="left", indicator=True)
        return jobs[(merged["_merge"] == "left_only").to_numpy()].reset_index(drop=True)

    def arrays(self, name: str, rows: pd.DataFrame | None = None) -> np.ndarray:
        """Array ``name`` for ``rows`` of :meth:`table` (all rows when omitted), stacked."""
        rows = self.table() if rows is None else rows
        cache: dict[str, Any] = {}
        parts = []
        for chunk, row in zip(rows["chunk"], rows["row"]):
            if chunk not in cache:
                cache[chunk] = load_npz(
                    self.path / "chunks" / f"{chunk}.npz", "a results-store chunk's arrays",
                    "Delete it and its .parquet file; the next run recomputes that chunk.")
            if name not in cache[chunk]:
                raise InvalidInputError(
                    f"no array {name!r} in this store; arrays: {sorted(cache[chunk])}")
            parts.append(cache[chunk][name][row])
        return np.stack(parts) if parts else np.empty((0,))

    # -- writing ---------------------------------------------------------------------------
    def write(self, rows: pd.DataFrame, arrays: Mapping[str, np.ndarray] | None = None) -> str:
        """Store a chunk of finished jobs; returns its id.

        ``arrays`` maps names to arrays whose first axis has ``len(rows)`` entries. Rows whose
        key is already stored are rejected, so a job is never stored twice.
        """
        self._check_keys(rows)
        arrays = dict(arrays or {})
        for name, array in arrays.items():
            if len(array) != len(rows):
                raise InvalidInputError(
                    f"array {name!r} has {len(array)} entries for {len(rows)} rows")
        if len(self.missing(rows)) != len(rows):
            raise InvalidInputError("some of these jobs are already stored; call missing() first")
        rows = rows.reset_index(drop=True)
        chunk = config_hash(rows[self.key_columns].astype(str).values.tolist())
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        atomic_write_bytes(self.path / "chunks" / f"{chunk}.npz", buffer.getvalue())
        with atomic_path(self.path / "chunks" / f"{chunk}.parquet") as tmp:
            rows.to_parquet(tmp, index=False)
        return chunk

    def _check_keys(self, frame: pd.DataFrame) -> None:
        absent = [c for c in self.key_columns if c not in frame.columns]
        if absent:
            raise InvalidInputError(f"rows lack the key columns {absent}")
