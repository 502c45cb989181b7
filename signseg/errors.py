"""Exceptions raised by signseg.

Every error says what was wrong, what was expected and what to do about it.
They subclass the built-in exception a user would naturally catch
(``ValueError``, ``FileNotFoundError``, ``KeyError``) so generic handlers keep working.
"""

from __future__ import annotations


class SignsegError(Exception):
    """Base class of every signseg error."""


class InvalidInputError(SignsegError, ValueError):
    """An argument has the wrong shape, range or value (e.g. alpha outside [0, 1], NaNs)."""


class UnknownNameError(SignsegError, KeyError):
    """A registry lookup (model, data set, profile, notebook) failed.

    ``KeyError`` renders its message with quotes; ``__str__`` is overridden so the
    message reads as plain text.
    """

    def __str__(self) -> str:  # pragma: no cover - trivial
        return str(self.args[0]) if self.args else ""


class DataNotFoundError(SignsegError, FileNotFoundError):
    """A data set is neither available locally nor downloadable."""


class WeightsNotFoundError(SignsegError, FileNotFoundError):
    """Pretrained weights are not in the cache and cannot be downloaded."""


class DamagedFileError(SignsegError, ValueError):
    """A file exists but cannot be used: empty, truncated, unreadable, of the wrong kind,
    lacking an expected entry, or not matching its recorded checksum.

    The message names the file, says what is wrong with it and what to do.
    """


class NotebookExecutionError(SignsegError, RuntimeError):
    """A notebook failed while being executed for a profile."""


class SchedulerError(SignsegError, RuntimeError):
    """A Dask scheduler cannot be reached, or a local cluster cannot start (:mod:`signseg.sweep`).

    The message names the scheduler and says how to start one or run without it.
    """
