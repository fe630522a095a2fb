"""Training records in any format -> one :class:`Run`.

``load_run(paths)`` reads RadioDiff text logs, CSV / JSONL, TensorBoard events, directories and
radiovae run dirs; ``radiovae.runlog.follow.RunFollower(paths).poll()`` does the same for files
that are still growing, reading only the new bytes; ``format_radiodiff_lines`` is the one
definition of RadioDiff's log line. Each format is a reader (``radiovae.runlog.formats.Reader``:
sniff, read, parse_chunk, its writer's conventions) in one registry (``formats.register``; the
built-ins in ``readers.py``); a format's identity is a ``formats.Format`` member.
"""

from radiovae.runlog.load import load_run
from radiovae.runlog.radiodiff_log import format_radiodiff_lines
from radiovae.runlog.run import Run, Segment

__all__ = ["Run", "Segment", "load_run", "format_radiodiff_lines"]
