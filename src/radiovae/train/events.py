"""TensorBoard event files, written by the training thread itself.

torch's ``SummaryWriter`` hands events to a writer thread; on a full disk that thread dies with an
``OSError`` that Python prints as a traceback of its own (whatever the trainer then says), and the
error reaches the trainer only at a later call. Here every ``add_scalars`` writes and returns, so
a full disk is an ``OSError`` raised where the records are written, handled there like one in
metrics.jsonl. A write that fails is cut back off the file: the file holds whole records only.

The file is the one ``SummaryWriter`` writes: ``events.out.tfevents.<time>.<host>.<pid>.<n>``,
TFRecord framing, a ``brain.Event:2`` first event, one event per scalar (``simple_value``), and on
resume from step k the same two events at step k (the file version, then ``SessionLog.START``)
that tell TensorBoard to drop the older files' events of steps >= k.
"""

from __future__ import annotations

import io
import itertools
import os
import socket
import time
from pathlib import Path

_UID = itertools.count()


class EventFile:
    """One event file in ``logdir``; ``purge_step``: resuming from a checkpoint at that step."""

    def __init__(self, logdir: Path, purge_step: int | None = None):
        from tensorboard.compat.proto.event_pb2 import Event, SessionLog, SourceMetadata
        from tensorboard.compat.proto.summary_pb2 import Summary

        self._event, self._summary = Event, Summary
        logdir = Path(logdir)
        logdir.mkdir(parents=True, exist_ok=True)
        # TensorBoard reads a folder's files in name order: the counter is zero-padded so that
        # two files of one process in one second (a resume in the same process) keep their order
        self.path = logdir / (f"events.out.tfevents.{int(time.time()):010d}."
                              f"{socket.gethostname()}.{os.getpid()}.{next(_UID):06d}")
        self._file = open(self.path, "xb", buffering=0)   # noqa: SIM115 - closed in close()
        self._size = 0
        first = [Event(wall_time=time.time(), file_version="brain.Event:2",
                       source_metadata=SourceMetadata(writer="radiovae"))]
        if purge_step is not None:
            first += [Event(step=purge_step, file_version="brain.Event:2"),
                      Event(step=purge_step, session_log=SessionLog(status=SessionLog.START))]
        try:
            self._write(first)
        except OSError:               # no space even for the header: leave no empty file
            self._file.close()
            self.path.unlink(missing_ok=True)
            raise

    def add_scalars(self, step: int, values: dict[str, float], wall_time: float | None = None
                    ) -> None:
        """One event per scalar, all at ``step`` (NaN and +-inf as they are)."""
        when = time.time() if wall_time is None else wall_time
        Event, Summary = self._event, self._summary
        self._write([Event(wall_time=when, step=step, summary=Summary(
            value=[Summary.Value(tag=tag, simple_value=float(v))])) for tag, v in values.items()])

    def _write(self, events: list) -> None:
        """Append ``events`` whole, or raise the OSError with the file as it was before."""
        from tensorboard.summary.writer.record_writer import RecordWriter

        buf = io.BytesIO()
        framing = RecordWriter(buf)
        for event in events:
            framing.write(event.SerializeToString())
        data = memoryview(buf.getvalue())
        try:
            while data:                      # a short write (the disk filling) is retried,
                data = data[self._file.write(data):]   # then fails with ENOSPC
        except OSError:
            try:
                self._file.truncate(self._size)   # frees space: works on a full disk
                self._file.seek(self._size)
            except OSError:
                pass
            raise
        self._size += len(buf.getbuffer())

    def close(self) -> None:
        self._file.close()
