"""Keeping the decoders' own stderr lines out of the toolkit's messages.

decord's bundled FFmpeg and its C++ logger write straight to file descriptor 2 (``[mov,mp4,...] moov
atom not found``, ``video_reader.cc:83: ERROR opening ...``) before the Python exception that the
readers turn into one :class:`~sdinterp.errors.VideoReadError` line. Python cannot catch those
writes, so while a decoder opens a file, descriptor 2 points at a temporary file: on success what was
written there is passed on unchanged (nothing is lost, e.g. a progress bar drawn by another thread
meanwhile); on failure it is dropped, and the error message says what went wrong.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from collections.abc import Iterator

__all__ = ["decoder_stderr_quieted", "quiet_decord_logging"]

_lock = threading.Lock()
_decord_quiet = False


def _new_lock() -> None:
    # A child forked while another thread captured would inherit the lock held, for ever.
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock)


@contextlib.contextmanager
def decoder_stderr_quieted() -> Iterator[None]:
    """Run the block with file descriptor 2 captured (see the module docstring).

    Only one block captures at a time (a lock); where descriptor 2 cannot be duplicated (a closed
    stderr), the block runs uncaptured.

    Examples::

        >>> with decoder_stderr_quieted():
        ...     pass
    """
    with _lock:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError, AttributeError):
            yield
            return
        ok = False
        with tempfile.TemporaryFile() as tmp:
            os.dup2(tmp.fileno(), 2)
            try:
                yield
                ok = True
            finally:
                with contextlib.suppress(OSError, ValueError, AttributeError):
                    sys.stderr.flush()
                os.dup2(saved, 2)
                os.close(saved)
                if ok:
                    tmp.seek(0)
                    written = memoryview(tmp.read())
                    while written:  # os.write may write less than it is given
                        written = written[os.write(2, written) :]


def quiet_decord_logging() -> None:
    """Turn off the log lines of decord's bundled FFmpeg (its own copy; PyAV's logging is off unless
    the user turns it on). Decoding problems still reach the user, as the readers' errors."""
    global _decord_quiet
    if _decord_quiet:
        return
    import decord

    with contextlib.suppress(AttributeError):
        decord.logging.set_level(decord.logging.QUIET)
    _decord_quiet = True
