"""The embedded print server's root directory: where everything goes, and what is written.

One root holds it all, so nothing touches the machine's own CUPS: cupsd's configuration
(``cupsd.conf``, ``cups-files.conf``), spool, state, logs and socket; an overlay of CUPS'
filters and backends with the ``testfail`` backend added; the print command of the virtual
printers and the documents they keep; the private D-Bus socket; the children's logs.
:class:`Layout` names each path once, writes the files and reads back what the virtual
printers received.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from labd.errors import EmbeddedPrintServerError

_SUN_PATH_MAX: Final = 107  # sockaddr_un.sun_path holds 108 bytes with the NUL
_LP_USER: Final = "lp"
_SERVER_BIN: Final = Path("/usr/lib/cups")
_SIDECAR_SUFFIX: Final = ".env"

# ippeveprinter runs this for every document.  Names start with a UTC time stamp, so they
# sort oldest first and a restarted printer (whose job ids start again at 1) overwrites
# nothing.  It writes under dot names and renames, so received() never sees half a file,
# and the sidecar is in place before its document.
_SAVE_COMMAND: Final = """\
#!/bin/sh
# ippeveprinter print command: keep the document and its IPP attributes in $LABD_IPP_OUT.
set -eu
name="$(date -u +%Y%m%dT%H%M%S.%N)-$(basename "$1")"
{ env | grep -E '^(IPP_|CONTENT_TYPE=|LABD_QUEUE=)' | sort; } > "$LABD_IPP_OUT/.$name.env" || true
cp "$1" "$LABD_IPP_OUT/.$name"
mv "$LABD_IPP_OUT/.$name.env" "$LABD_IPP_OUT/$name.env"
mv "$LABD_IPP_OUT/.$name" "$LABD_IPP_OUT/$name"
"""

# A CUPS backend that fails on demand, for tests of printer trouble: ippeveprinter cannot
# do it reliably (an exit 1 of its command is reported as completed in about 6 of 20 runs),
# this is deterministic.  "testfail:/dir" reads its behaviour from /dir/mode and keeps each
# document as /dir/<cups job id>-<n>.out (n counts the times CUPS ran it: a reprint shows).
_TESTFAIL_BACKEND: Final = """\
#!/bin/sh
[ $# -eq 0 ] && { echo 'direct testfail "Unknown" "labd test backend"'; exit 0; }
d=${DEVICE_URI#testfail:}
mode=$(cat "$d/mode" 2>/dev/null || echo ok)
n=1; while [ -e "$d/$1-$n.out" ]; do n=$((n + 1)); done
if [ $# -ge 6 ]; then cp "$6" "$d/$1-$n.out"; else cat > "$d/$1-$n.out"; fi
case $mode in
  ok) exit 0;;
  fail) echo "ERROR: simulated failure" >&2; exit 1;;
  cancel) exit 5;;
  stop) echo "STATE: +media-empty-error" >&2; exit 4;;
  hang) while [ "$(cat "$d/mode" 2>/dev/null)" = hang ]; do sleep 0.1; done; exit 0;;
esac
exit 0
"""


@dataclass(frozen=True)
class Layout:
    """The paths under one absolute root, and the files the server needs there."""

    root: Path

    @property
    def cups(self) -> Path:
        """cupsd's own tree: etc, lib, run, log, spool, cache."""
        return self.root / "cups"

    @property
    def etc(self) -> Path:
        """cupsd's ServerRoot: its configuration and the queues' PPDs."""
        return self.cups / "etc"

    @property
    def socket(self) -> Path:
        """The socket cupsd listens on, the only way in."""
        return self.cups / "run" / "cups.sock"

    @property
    def spool(self) -> Path:
        """cupsd's RequestRoot: c<id> control files and d<id>-<n> document copies."""
        return self.cups / "spool"

    @property
    def error_log(self) -> Path:
        """cupsd's ErrorLog, whose tail explains a queue that does not come up."""
        return self.cups / "log" / "error_log"

    @property
    def output_dir(self) -> Path:
        """Every document the virtual printers received, each with a ``.env`` sidecar."""
        return self.root / "ipp" / "out"

    @property
    def save_command(self) -> Path:
        """The virtual printers' print command (keeps each document in output_dir)."""
        return self.root / "ipp" / "save-document"

    @property
    def bus_socket(self) -> Path:
        """The private D-Bus bus' socket."""
        return self.root / "dbus" / "bus.sock"

    def ppd(self, queue: str) -> Path:
        """The PPD cupsd keeps of a queue (there from an earlier start under this root)."""
        return self.etc / "ppd" / f"{queue}.ppd"

    def printer_spool(self, queue: str) -> Path:
        """The spool of one queue's virtual printer."""
        return self.root / "ipp" / "spool" / queue

    def child_log(self, name: str) -> Path:
        """Where a child process' output goes."""
        return self.root / "logs" / f"{name}.log"

    def prepare(self) -> None:
        """Make the directories and write the configuration, the backend and the command."""
        if len(os.fsencode(self.socket)) > _SUN_PATH_MAX:
            raise EmbeddedPrintServerError(
                f"root {self.root} is too deep: the socket path {self.socket} exceeds "
                f"{_SUN_PATH_MAX} bytes; use a shorter root"
            )
        cups = self.cups
        for d in (
            self.root,
            cups,
            self.etc,
            self.etc / "ppd",
            cups / "run",
            cups / "log",
            self.root / "ipp",
            self.output_dir,
            self.root / "dbus",
            self.root / "logs",
        ):
            d.mkdir(parents=True, exist_ok=True)
            # Filters and backends run as user lp: every directory on the way is 0755.
            d.chmod(0o755)
        _check_traversable(self.root)
        as_root = os.geteuid() == 0
        self._server_bin(as_root=as_root)
        self.save_command.write_text(_SAVE_COMMAND)
        self.save_command.chmod(0o755)
        spool, cache = self.spool, cups / "cache"
        for d, mode in ((spool, 0o710), (spool / "tmp", 0o1770), (cache, 0o775)):
            d.mkdir(exist_ok=True)
            if as_root:
                shutil.chown(d, group=_LP_USER)
            d.chmod(mode)
        self._write_conf(as_root=as_root, cache=cache)

    def testfail_folder(self, queue: str) -> Path:
        """Make the folder of a testfail queue, its mode ``ok``; return it."""
        folder = self.root / "testfail" / queue
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o777)  # the backend runs as root or as lp, depending on cupsd's user
        (folder / "mode").write_text("ok\n")
        (folder / "mode").chmod(0o666)
        return folder

    def received(self) -> list[Path]:
        """The documents the virtual printers have received, oldest first."""
        if not self.output_dir.is_dir():
            return []
        return sorted(
            p
            for p in self.output_dir.iterdir()
            if not p.name.startswith(".") and not p.name.endswith(_SIDECAR_SUFFIX)
        )

    @staticmethod
    def job_attributes(document: Path) -> dict[str, str]:
        """The IPP attributes the save command kept beside a received document."""
        sidecar = document.with_name(document.name + _SIDECAR_SUFFIX)
        pairs = (line.partition("=") for line in sidecar.read_text().splitlines())
        return {key: value for key, sep, value in pairs if sep}

    def _server_bin(self, *, as_root: bool) -> None:
        """CUPS' own filters and backends, plus the testfail backend (an overlay of links)."""
        lib = self.cups / "lib"
        backends = lib / "backend"
        backends.mkdir(parents=True, exist_ok=True)
        for d in (lib, backends):
            d.chmod(0o755)
        for source, target in [(_SERVER_BIN / n, lib / n) for n in _entries(_SERVER_BIN)] + [
            (_SERVER_BIN / "backend" / n, backends / n) for n in _entries(_SERVER_BIN / "backend")
        ]:
            if source.name != "backend" and not target.is_symlink():
                target.symlink_to(source)
        backend = backends / "testfail"
        backend.write_text(_TESTFAIL_BACKEND)
        # 0700 makes cupsd run it as root (as its owner) when cupsd runs as root.
        backend.chmod(0o700 if as_root else 0o755)

    def _write_conf(self, *, as_root: bool, cache: Path) -> None:
        cups, spool = self.cups, self.spool
        if as_root:
            user, group = _LP_USER, _LP_USER
        else:
            # An unprivileged cupsd runs its filters as itself (as CUPS' own test suite does).
            user = pwd.getpwuid(os.geteuid()).pw_name
            group = grp.getgrgid(os.getegid()).gr_name
        system_group = "root" if as_root else group
        (self.etc / "cups-files.conf").write_text(
            f"ServerRoot {cups}/etc\n"
            f"ServerBin {cups}/lib\n"
            f"RequestRoot {spool}\n"
            f"TempDir {spool / 'tmp'}\n"
            f"CacheDir {cache}\n"
            f"StateDir {cups}/run\n"
            f"AccessLog {cups}/log/access_log\n"
            f"ErrorLog {self.error_log}\n"
            f"PageLog {cups}/log/page_log\n"
            f"Printcap {cups}/run/printcap\n"  # never the system's /etc/printcap
            f"SystemGroup {system_group}\n"
            f"User {user}\n"
            f"Group {group}\n"
            "FileDevice Yes\n"  # the raw queues print to file:///dev/null
        )
        # The settings labd insists on (DESIGN.md), and a socket-only, open policy: this
        # server is reachable only through its socket under root.
        (self.etc / "cupsd.conf").write_text(
            "LogLevel info\n"
            "MaxLogSize 1m\n"
            f"Listen {self.socket}\n"
            "Browsing No\n"
            "BrowseLocalProtocols none\n"
            "DefaultShared No\n"
            "WebInterface No\n"
            "DefaultAuthType None\n"
            "PreserveJobFiles No\n"
            "PreserveJobHistory Yes\n"
            "ErrorPolicy abort-job\n"
            "MaxJobs 1000\n"
            # Write queues and job history at once, not up to 30 s later: a cupsd killed
            # in between would forget them, and reconciliation relies on that history.
            "DirtyCleanInterval 0\n"
            "<Location />\n  Order allow,deny\n  Allow all\n</Location>\n"
            "<Policy default>\n"
            "  JobPrivateAccess all\n  JobPrivateValues none\n"
            "  SubscriptionPrivateAccess all\n  SubscriptionPrivateValues none\n"
            "  <Limit All>\n    Order deny,allow\n  </Limit>\n"
            "</Policy>\n"
        )


def _entries(folder: Path) -> list[str]:
    try:
        return sorted(p.name for p in folder.iterdir())
    except OSError:
        return []


def _check_traversable(root: Path) -> None:
    """Fail early if user lp could not reach root (pytest's tmp_path is under a 0700 dir)."""
    if os.geteuid() != 0:
        return  # an unprivileged cupsd runs its filters as this user, who can reach root
    lp = pwd.getpwnam(_LP_USER)
    for d in (root, *root.parents):
        st = d.stat()
        if st.st_uid == lp.pw_uid:
            ok = bool(st.st_mode & 0o100)
        elif st.st_gid == lp.pw_gid:
            ok = bool(st.st_mode & 0o010)
        else:
            ok = bool(st.st_mode & 0o001)
        if not ok:
            raise EmbeddedPrintServerError(
                f"user lp cannot traverse {d} (mode {st.st_mode & 0o7777:o}); CUPS filters "
                f"run as lp: put the root elsewhere (e.g. under /tmp) or chmod o+x {d}"
            )
