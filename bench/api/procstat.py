"""CPU time of a process tree from /proc (utime + stime of every live process in it)."""

from __future__ import annotations

import os
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: split after its ")".
    return text.rsplit(")", 1)[1].split()


def tree(root: int) -> list[int]:
    """`root` and its descendants."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None:
                parents.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += parents.get(pid, [])
    return out


def cpu_seconds(root: int) -> float:
    """User + system CPU seconds used so far by `root`'s tree (children still running)."""
    total = 0
    for pid in tree(root):
        fields = _stat(pid)
        if fields is not None:
            # After the ")": state is field 0, so utime (14th) and stime (15th) are 11, 12.
            total += int(fields[11]) + int(fields[12])
    return total / _TICK
