"""Results on disk: a tidy table plus arrays, keyed by a hash of the configuration.

A :class:`ResultsStore` is a folder ``<root>/<name>-<hash of config>/`` holding

* ``config.json`` — the configuration the key was computed from;
* ``chunks/<id>.parquet`` — rows of a tidy table (one row per job, e.g. one visualization
  run), and ``chunks/<id>.<digest>.npz`` — arrays whose first axis matches those rows (best
  images, final codes, trajectories). A chunk's ``id`` is a hash of its rows' keys; its
  arrays file is named by a digest of their content and recorded in the table's Parquet
  metadata (stores written before that read ``chunks/<id>.npz``).

Many writers at once (processes, Dask workers, machines sharing a file system)
-------------------------------------------------------------------------------
A chunk is written arrays first, then its table, which *commits* it: the table is created
with :func:`~signseg.cache.create_exclusive` (a hard link that fails if the file exists), so
of two writers of the same chunk exactly one wins and the other's work is discarded, never
mixed in; identical arrays share one file name, so the loser deletes only arrays that differ.
Writing a chunk that is already stored does nothing (:meth:`ResultsStore.write` is
idempotent), a job stored in two different chunks by racing writers is read once (the row
of the chunk whose id sorts first, so every reader sees the same table), and an interrupted
writer leaves either a complete chunk or none: :meth:`ResultsStore.missing` tells the next run
exactly which jobs remain. What a killed writer can leave behind is an arrays file that no
table names (or a hidden ``.*.tmp`` file): harmless, reused when the chunk is written again.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .cache import (arrays_digest, atomic_write_bytes, atomic_write_text, cache_dir,
                    canonical_json, config_hash, create_exclusive)
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

    def chunk_id(self, rows: pd.DataFrame) -> str:
        """The id of the chunk holding exactly ``rows`` (a hash of their keys, in order)."""
        self._check_keys(rows)
        return config_hash(rows[self.key_columns].astype(str).values.tolist())

    def has(self, rows: pd.DataFrame) -> bool:
        """Whether the chunk of exactly ``rows`` is stored (its table exists; nothing is read)."""
        return (self.path / "chunks" / f"{self.chunk_id(rows)}.parquet").is_file()

    def chunk_files(self, chunk: str) -> tuple[Path, Path]:
        """The table and arrays files of the stored chunk ``chunk``.

        The arrays file is the one named in the table's metadata (``chunks/<id>.npz`` for
        stores written before arrays files were named by their content).
        """
        table = self.path / "chunks" / f"{chunk}.parquet"
        return table, self.path / "chunks" / (_arrays_name(table) or f"{chunk}.npz")

    def _read_chunk(self, chunk: str) -> pd.DataFrame | None:
        """The rows of ``chunk``, or ``None`` (after removing it) when a file of it is damaged.

        A chunk whose table or array file cannot be read is treated as missing, not as
        complete: its jobs are run again by the next :func:`missing` / write cycle.
        """
        table = self.path / "chunks" / f"{chunk}.parquet"
        arrays = self.path / "chunks" / f"{chunk}.npz"
        fix = "Delete it; its jobs are run again."
        try:
            frame = read_parquet(table, "a results-store chunk table", fix)
            table, arrays = self.chunk_files(chunk)
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
        """All stored rows, with ``chunk`` and ``row`` columns locating their arrays.

        Rows are in chunk-id order; a job that racing writers stored in two chunks appears
        once, from the chunk whose id sorts first.
        """
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
        table = pd.concat(frames, ignore_index=True)
        return table.drop_duplicates(self.key_columns, keep="first").reset_index(drop=True)

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
                    self.chunk_files(chunk)[1], "a results-store chunk's arrays",
                    "Delete it and its .parquet file; the next run recomputes that chunk.")
            if name not in cache[chunk]:
                raise InvalidInputError(
                    f"no array {name!r} in this store; arrays: {sorted(cache[chunk])}")
            parts.append(cache[chunk][name][row])
        return np.stack(parts) if parts else np.empty((0,))

    # -- writing ---------------------------------------------------------------------------
    def write(self, rows: pd.DataFrame, arrays: Mapping[str, np.ndarray] | None = None) -> str:
        """Store a chunk of finished jobs; returns its id. Safe with many writers at once.

        ``arrays`` maps names to arrays whose first axis has ``len(rows)`` entries. Writing
        a chunk that is already stored (the same keys in the same order) does nothing, so a
        retried or duplicated job is never stored twice; of two writers of one chunk the
        first to commit wins (see the module notes).
        """
        self._check_keys(rows)
        arrays = dict(arrays or {})
        for name, array in arrays.items():
            if len(array) != len(rows):
                raise InvalidInputError(
                    f"array {name!r} has {len(array)} entries for {len(rows)} rows")
        repeated = rows.duplicated(self.key_columns)
        if repeated.any():
            raise InvalidInputError(
                f"rows repeat the keys {rows.loc[repeated, self.key_columns].values.tolist()[:3]}; "
                "each job must appear once in a chunk")
        rows = rows.reset_index(drop=True)
        chunk = self.chunk_id(rows)
        table = self.path / "chunks" / f"{chunk}.parquet"
        if table.is_file():
            return chunk
        arrays_file = self.path / "chunks" / f"{chunk}.{arrays_digest(arrays)}.npz"
        if not arrays_file.is_file():
            buffer = io.BytesIO()
            np.savez_compressed(buffer, **arrays)
            atomic_write_bytes(arrays_file, buffer.getvalue())
        if not create_exclusive(table, lambda tmp: _write_table(rows, arrays_file.name, tmp)):
            if self.chunk_files(chunk)[1] != arrays_file:  # another writer won with other arrays
                arrays_file.unlink(missing_ok=True)
        return chunk

    def _check_keys(self, frame: pd.DataFrame) -> None:
        absent = [c for c in self.key_columns if c not in frame.columns]
        if absent:
            raise InvalidInputError(f"rows lack the key columns {absent}")


_ARRAYS_KEY = b"signseg.arrays"


def _write_table(rows: pd.DataFrame, arrays_name: str, path: Path) -> None:
    """Write ``rows`` as Parquet to ``path``, naming the chunk's arrays file in its metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(rows, preserve_index=False)
    metadata = {**(table.schema.metadata or {}), _ARRAYS_KEY: arrays_name.encode()}
    pq.write_table(table.replace_schema_metadata(metadata), path)


def _arrays_name(table: Path) -> str | None:
    """The arrays file named in a chunk table's metadata (``None``: none, or unreadable)."""
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_schema(table).metadata or {}
    except Exception:  # a damaged table: _read_chunk reports it
        return None
    name = metadata.get(_ARRAYS_KEY)
    return name.decode() if name else None
