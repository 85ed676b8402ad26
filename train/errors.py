"""Every error of dcgan.train. Each derives from dcgan.core.errors.DcganError, so dcgan-train
(and any caller) catches one class and prints its one-line message."""
from __future__ import annotations

from dcgan.core.errors import DcganError


class TrainError(DcganError):
    """A run that cannot start or go on: options that do not fit the data or the machine, a
    resume that would change the run, a run folder that could not be written."""


class NonFiniteLossError(TrainError):
    """The losses or the weights became NaN or infinite; the last good checkpoint is kept."""


class CheckpointError(DcganError):
    """A checkpoint that is missing, unreadable, not ours, or does not fit the architecture."""


class DamagedCheckpointError(CheckpointError):
    """A checkpoint whose bytes differ from what was written (its zip CRCs do not match)."""


class RunFolderError(DcganError):
    """An --out that cannot hold this run (not a run folder, not writable, nothing to resume)."""


class DeviceError(DcganError, ValueError):
    """A device that this machine does not have, or cannot serve this kind of run; also a
    ValueError, as a bad device name is a bad value."""
