"""Who may reach a hot folder, and what kind of filesystem it is on.

A hot folder holds customer photos: only the service and the lab's group may read or
write it.  labd refuses to watch a folder that others can reach, saying what is wrong and
how to fix it, and looks again at every rescan, so fixing the permissions is enough.
"""

from __future__ import annotations

import grp
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from labd.model import HotFolder, WatchMode

# Filesystems where inotify does not see what other machines write: poll them instead.
NETWORK_FILESYSTEMS: Final = frozenset(
    {"cifs", "smb3", "smbfs", "nfs", "nfs4", "9p", "afs", "ceph", "glusterfs", "fuse"}
)
MOUNTINFO: Final = Path("/proc/self/mountinfo")


@dataclass(frozen=True)
class FolderCheck:
    """What labd found about one hot folder."""

    name: str
    path: Path
    problem: str | None  # None: safe to watch
    filesystem: str
    watch: WatchMode  # INOTIFY or POLL, decided

    @property
    def ok(self) -> bool:
        """True when the folder may be watched."""
        return self.problem is None


def filesystem_type(path: Path, mountinfo: Path = MOUNTINFO) -> str:
    """The type of the filesystem ``path`` is on (``ext4``, ``cifs``, ``fuse.sshfs`` ...)."""
    best, kind = "", "unknown"
    target = str(path.resolve())
    try:
        lines = mountinfo.read_text().splitlines()
    except OSError:
        return kind
    for line in lines:
        fields = line.split()
        if "-" not in fields:
            continue
        mount_point = fields[4].replace("\\040", " ")
        fstype = fields[fields.index("-") + 1]
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= len(best):
            best, kind = mount_point, fstype
    return kind


def is_network(fstype: str) -> bool:
    """True for filesystems whose changes inotify cannot see."""
    return fstype in NETWORK_FILESYSTEMS or fstype.split(".", 1)[0] in NETWORK_FILESYSTEMS


def check_folder(hf: HotFolder) -> FolderCheck:
    """Check one hot folder's existence and permissions; decide how to watch it."""
    fstype = filesystem_type(hf.path) if hf.path.exists() else "unknown"
    watch = hf.watch
    if watch is WatchMode.AUTO:
        watch = WatchMode.POLL if is_network(fstype) else WatchMode.INOTIFY
    return FolderCheck(hf.name, hf.path, folder_problem(hf), fstype, watch)


def folder_problem(hf: HotFolder) -> str | None:
    """Why nothing may be taken from ``hf`` now (missing, a link, open to others), or None."""
    try:
        st = hf.path.lstat()
    except FileNotFoundError:
        return f"{hf.path} does not exist (share unmounted?); create it or fix the path"
    except OSError as e:
        return f"{hf.path} cannot be examined: {e.strerror}"
    if stat.S_ISLNK(st.st_mode):
        return f"{hf.path} is a symbolic link; configure the real folder's path"
    if not stat.S_ISDIR(st.st_mode):
        return f"{hf.path} is not a folder"
    return _access_problem(hf, st)


def _access_problem(hf: HotFolder, st: os.stat_result) -> str | None:
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o007:
        return (
            f"{hf.path} can be reached by users outside the lab (mode {mode:04o}); "
            f"fix: chmod o-rwx {hf.path}"
        )
    if hf.group is not None:
        try:
            gid = grp.getgrnam(hf.group).gr_gid
        except KeyError:
            return f"group {hf.group!r} does not exist; create it or fix `group`"
        if st.st_gid != gid:
            return (
                f"{hf.path} belongs to group {_group_name(st.st_gid)!r}, not {hf.group!r}; "
                f"fix: chgrp {hf.group} {hf.path}"
            )
    if not os.access(hf.path, os.R_OK | os.W_OK | os.X_OK):
        return f"labd may not read and write {hf.path}; give the labd user access"
    return None


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def owner_problem(hf: HotFolder, technician: str) -> str | None:
    """Why ``technician`` may not drop jobs into ``hf``, or None."""
    if hf.technicians and technician not in hf.technicians:
        allowed = ", ".join(hf.technicians)
        return f"{technician} may not drop jobs into hot folder {hf.name} (allowed: {allowed})"
    return None
