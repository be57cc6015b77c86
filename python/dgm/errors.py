"""dgm's exceptions: one class per dgm_status, all subclasses of dgm.Error.

A failed library call raises the class of its status with the library's own message
(dgm_last_error of the context). Arguments that Python can tell are wrong before any call
(a dtype that does not convert, a wrong width, n < 1) raise the same classes with a message
of the bindings'. Where a built-in exception means the same thing, the class derives from
it too (InvalidArgument is a ValueError, OutOfMemory a MemoryError, FileError an OSError...),
so `except ValueError` also works.
"""

from . import _lib


class Error(Exception):
    """A dgm failure. `status` is the dgm_status number, `status_name` its name
    ("DGM_STATUS_IO_ERROR")."""

    status = -1
    status_name = ""


class InvalidArgument(Error, ValueError):
    """A NULL, bad value or wrong shape (DGM_STATUS_INVALID_ARGUMENT)."""


class ShapeMismatch(Error, ValueError):
    """Operands whose shapes do not fit together, e.g. data of the wrong width
    (DGM_STATUS_SHAPE_MISMATCH)."""


class WrongDevice(Error):
    """A tensor of another context or device (DGM_STATUS_WRONG_DEVICE)."""


class OutOfMemory(Error, MemoryError):
    """Host or device memory exhausted, or the arena limit hit (DGM_STATUS_OOM)."""


class Unsupported(Error, NotImplementedError):
    """Not available in this build, on this backend or for this model kind
    (DGM_STATUS_UNSUPPORTED)."""


class NoDevice(Error):
    """CUDA asked for but no usable GPU (DGM_STATUS_NO_DEVICE)."""


class BackendError(Error):
    """A CUDA, cuBLAS, cuRAND or BLAS call failed (DGM_STATUS_BACKEND_ERROR)."""


class FileError(Error, OSError):
    """Reading or writing a file failed (DGM_STATUS_IO_ERROR)."""


class BadFormat(Error, ValueError):
    """A file is corrupt, truncated or of the wrong kind (DGM_STATUS_BAD_FORMAT)."""


class NotFinite(Error, FloatingPointError):
    """A loss or value is NaN or infinite (DGM_STATUS_NOT_FINITE)."""


class StateError(Error, RuntimeError):
    """A call out of order, e.g. on a closed model (DGM_STATUS_STATE_ERROR)."""


BY_STATUS = {1: InvalidArgument, 2: ShapeMismatch, 3: WrongDevice, 4: OutOfMemory,
             5: Unsupported, 6: NoDevice, 7: BackendError, 8: FileError, 9: BadFormat,
             10: NotFinite, 11: StateError}
for _s, _cls in BY_STATUS.items():
    _cls.status = _s
    _cls.status_name = "DGM_STATUS_" + _lib.STATUS_NAMES[_s]
del _s, _cls


def make(status, message):
    return BY_STATUS.get(status, Error)(message)


def check(status, ctx, what=None):
    """Raises the exception of a non-OK status with dgm_last_error(ctx) (or, without a
    context, `what`)."""
    if status == _lib.OK:
        return
    msg = _lib.text(_lib.lib.dgm_last_error(ctx)) if ctx else ""
    if not msg:
        name = _lib.STATUS_NAMES[status] if 0 <= status < len(_lib.STATUS_NAMES) else str(status)
        msg = f"{what or 'dgm call'} failed: DGM_STATUS_{name}"
    raise make(status, msg)
