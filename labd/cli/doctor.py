"""``labd doctor``: check what labd relies on and say how to fix what is wrong.

The installation (state and spool: there, private, owned by the service user, room in
the spool, the journal on local disk, or a PostgreSQL journal reachable, current, and
append-only for labd's role), the CUPS server (the settings that protect
customers' images and make reconciliation possible, the configured queues), the hot
folders (who can reach them, how they are watched) and the Samba shares in front of them.
"""

from __future__ import annotations

import argparse
import os
import pwd
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TextIO

from labd import samba
from labd.cli.common import Subparsers, config_of
from labd.cli.journal_admin import inspect_journal
from labd.config import Config
from labd.errors import AccessDenied, JournalSchemaError, LabdError, PrintError
from labd.intake.safety import check_folder, filesystem_type, is_network
from labd.printing import CupsClient
from labd.running import running_status

_OFF: Final = frozenset({"no", "off", "false", "0"})
# Exit status when something needs fixing (the CLI's "other labd error").
_PROBLEMS_EXIT: Final = 2
# The user systemd/labd.service runs labd as (and systemd/labd.sysusers creates).
SERVICE_USER: Final = "labd"
# Below this many times `min_free_mb` free in the spool, doctor warns before labd holds.
_FREE_WARN_FACTOR: Final = 4


@dataclass(frozen=True)
class Finding:
    """One check: ok or not, what was found, and how to fix it."""

    ok: bool
    what: str
    fix: str = ""
    warning: bool = False  # worth fixing, but nothing is at risk


def _ok(what: str) -> Finding:
    return Finding(ok=True, what=what)


def _fix(what: str, fix: str = "") -> Finding:
    return Finding(ok=False, what=what, fix=fix)


def _directives(text: str) -> dict[str, str]:
    """Top-level directives of a cupsd.conf (not those inside <Location> and the like)."""
    found, depth = {}, 0
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("</"):
            depth -= 1
        elif line.startswith("<"):
            depth += 1
        elif depth == 0:
            key, _, value = line.partition(" ")
            found[key.lower()] = value.strip()
    return found


def check_installation(config: Config, user: str = SERVICE_USER) -> list[Finding]:
    """State and spool: exist, mode 0700, owned by ``user``; free space; journal local."""
    try:
        uid: int | None = pwd.getpwnam(user).pw_uid
    except KeyError:
        uid = None
    findings = (
        []
        if uid is not None
        else [
            _fix(
                f"service user {user!r} does not exist",
                "systemd-sysusers systemd/labd.sysusers (README: Install as a service)",
            )
        ]
    )
    for what, folder in (("state", config.state_dir), ("spool", config.spool_dir)):
        try:
            st = folder.stat()
        except OSError as e:
            findings.append(
                _fix(
                    f"{what} {folder}: {e.strerror}",
                    f"install -d -o {user} -g {user} -m 0700 {folder}",
                )
            )
            continue
        mode = st.st_mode & 0o7777
        owner = _user_name(st.st_uid)
        problems = [] if mode == 0o700 else [f"mode {mode:04o}, not 0700"]
        if uid is not None and st.st_uid != uid:
            problems.append(f"owned by {owner}, not {user}")
        fix = f"chown {user}:{user} {folder} && chmod 0700 {folder}"
        if problems:
            findings.append(_fix(f"{what} {folder}: {', '.join(problems)}", fix))
        elif uid is None:
            # Whose it should be is unknown until the user exists: say whose it is.
            findings.append(
                Finding(
                    ok=True,
                    warning=True,
                    what=f"{what} {folder}: mode 0700, owned by {owner}; the service user "
                    f"{user!r} does not exist to own it",
                    fix=f"once the user exists: {fix}",
                )
            )
        else:
            findings.append(_ok(f"{what} {folder}: mode 0700, owned by {user}"))
    findings.extend(_free_space(config))
    findings.extend(_decoders())
    findings.append(_colour_tables())
    if config.journal.postgres is not None:
        return findings  # no journal file here: check_journal looks at the database
    fstype = filesystem_type(config.state_dir) if config.state_dir.exists() else "unknown"
    findings.append(
        _fix(
            f"journal {config.state_dir} is on {fstype}, a network filesystem: SQLite's "
            "locking is not safe there",
            "put labd.state_dir on the print server's own disk",
        )
        if is_network(fstype)
        else _ok(f"journal {config.state_dir} on local {fstype}")
    )
    return findings


def _decoders() -> list[Finding]:
    """Whether conversion has the system libraries that decode photos at the print's scale
    (Debian's libturbojpeg0 for JPEG, libwebp7 for WebP): without one, labd still prints,
    decoding those photos whole with Pillow."""
    from labd.convert import turbojpeg, webp  # noqa: PLC0415  (the conversion: Pillow, libvips)

    findings = []
    for binding, photos in ((turbojpeg, "camera JPEGs"), (webp, "WebP photos")):
        library = binding.LIBRARY
        if binding.available():
            findings.append(_ok(f"{library}: {photos} decoded at the print's scale"))
        else:
            findings.append(
                Finding(
                    ok=True,
                    warning=True,
                    what=f"{library} not found: {photos} are decoded whole by Pillow "
                    "(slower, and more memory per conversion)",
                    fix=f"apt-get install {binding.PACKAGE}",
                )
            )
    return findings


def _colour_tables() -> Finding:
    """Whether conversion has labd's C module and the system's littlecms (Debian's
    liblcms2-2) for its colour tables: without them labd still converts colours, with
    littlecms photo by photo."""
    from labd.convert import littlecms, tables  # noqa: PLC0415  (as _decoders)

    if tables.available() and littlecms.available():
        vector = tables.vector()
        kernel = f", {vector}" if vector else ""
        return _ok(f"colour tables: labd's C module{kernel} and {littlecms.LIBRARY}")
    missing = [] if tables.available() else ["labd's C module labd.convert._tables (not built)"]
    if not littlecms.available():
        missing.append(f"{littlecms.LIBRARY} (not found)")
    return Finding(
        ok=True,
        warning=True,
        what=f"colour tables: no {' and no '.join(missing)}: photos needing a colour conversion "
        "are converted by littlecms one by one (slower)",
        fix="apt-get install gcc python3-dev liblcms2-2, then install labd again",
    )


def _user_name(uid: int) -> str:
    """``uid``'s user name, or ``uid N`` for a number no user has."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _free_space(config: Config) -> list[Finding]:
    folder = config.spool_dir
    try:
        st = os.statvfs(folder)
    except OSError as e:
        return [_fix(f"spool {folder}: cannot measure free space: {e.strerror}")]
    free_mb = st.f_bavail * st.f_frsize // 1024**2
    floor_mb = config.min_free_bytes // 1024**2
    if free_mb < floor_mb:
        return [
            _fix(
                f"spool {folder}: {free_mb} MB free, below min_free_mb ({floor_mb}): "
                "labd takes no jobs",
                "free space on that filesystem (or enlarge it)",
            )
        ]
    if free_mb < floor_mb * _FREE_WARN_FACTOR:
        return [
            Finding(
                ok=True,
                warning=True,
                what=f"spool {folder}: only {free_mb} MB free; labd stops taking "
                f"jobs below {floor_mb} MB",
                fix="free space on that filesystem",
            )
        ]
    return [_ok(f"spool {folder}: {free_mb} MB free")]


def _cups_server(config: Config) -> tuple[str | None, str]:
    """The CUPS server to check, and which one it is: the one the labd running on this
    state directory prints through (the demo's own, say), else the configured one."""
    try:
        running = running_status(config.state_dir)
    except (AccessDenied, OSError):
        running = None  # the state check says why it cannot be read
    if running is not None and running.cups_server is not None:
        return running.cups_server, f"the running labd's, PID {running.pid}"
    if config.cups_server is not None:
        return config.cups_server, "[cups] server"
    return None, "the system's: CUPS_SERVER, else /etc/cups/client.conf, else the local one"


def check_cups(config: Config) -> list[Finding]:
    """The CUPS checks."""
    server, which = _cups_server(config)
    cups = CupsClient(server)
    where = f"CUPS at {server}" if server is not None else "CUPS"
    try:
        settings = _directives(cups.server_config())
    except PrintError as e:
        return [_fix(f"{where} ({which}): {e.problem}", "start CUPS, or fix [cups] server")]
    findings = [_ok(f"{where} ({which}) answers")]
    conf = "cupsd.conf (then restart CUPS)"
    # CUPS' default keeps every document for a day (86400): only an explicit "No" is off.
    keep_files = settings.get("preservejobfiles", "86400 (the default)")
    findings.append(
        _ok("PreserveJobFiles is off: CUPS keeps no copy of printed images")
        if keep_files.lower() in _OFF
        else _fix(
            f"PreserveJobFiles is {keep_files}: CUPS keeps a copy of customers' images",
            f"set 'PreserveJobFiles No' in {conf}",
        )
    )
    history = settings.get("preservejobhistory", "Yes")
    findings.append(
        _fix(
            f"PreserveJobHistory is {history}: after a crash labd cannot tell what printed",
            f"set 'PreserveJobHistory Yes' in {conf}",
        )
        if history.lower() in _OFF
        else _ok("PreserveJobHistory is on: reconciliation can see finished jobs")
    )
    for printer in sorted(config.printers.values(), key=lambda p: p.name):
        try:
            info = cups.queue_info(printer.queue)
        except PrintError as e:
            findings.append(_fix(f"queue {printer.queue}: {e.problem}"))
            continue
        if info is None:
            findings.append(
                _fix(
                    f"queue {printer.queue!r} (printer {printer.name}) does not exist",
                    f"add it: lpadmin -p {printer.queue} -v <device URI> -m everywhere -E",
                )
            )
        elif info.error_policy == "retry-job":
            findings.append(
                _fix(
                    f"queue {printer.queue!r} has error policy retry-job: CUPS reprints whole "
                    "jobs after an error",
                    f"lpadmin -p {printer.queue} -o printer-error-policy=abort-job",
                )
            )
        else:
            findings.append(_ok(f"queue {printer.queue!r}: error policy {info.error_policy}"))
    return findings


def check_hotfolders(config: Config) -> list[Finding]:
    """Each hot folder: reachable only by the lab, and how it is watched."""
    findings = []
    for hf in config.hotfolders.values():
        check = check_folder(hf)
        if check.problem is not None:
            findings.append(_fix(f"hot folder {hf.name}: {check.problem}"))
        else:
            findings.append(_ok(f"hot folder {hf.name}: {check.watch.value} on {check.filesystem}"))
    return findings


def check_shares(config: Config, smb_conf: Path) -> list[Finding]:
    """The Samba shares in front of the hot folders."""
    if not smb_conf.is_file():
        return [
            _ok(
                f"Samba: no configuration at {smb_conf}; skipped",
            )
        ]
    found = samba.check(samba.effective_config(smb_conf), config.hotfolders.values())
    if not found:
        return [_ok(f"Samba ({smb_conf}): every hot folder's share needs a password")]
    return [
        Finding(
            ok=f.severity != "error",
            what=f"Samba {f.subject}: {f.problem}",
            fix=f.fix,
            warning=f.severity != "error",
        )
        for f in found
    ]


def check_journal(config: Config, user: str = SERVICE_USER) -> list[Finding]:
    """A PostgreSQL journal: its password file, the connection, the server's version, the
    schema's, and what labd's role may do (append events: yes; rewrite them: better not)."""
    location = config.journal.postgres
    if location is None:
        return []  # the SQLite file: check_installation
    findings = []
    if location.password_file is not None and location.password_file.is_file():
        findings.append(_password_file(location.password_file, user))
    try:
        found = inspect_journal(location)
    except LabdError as e:
        return [*findings, _fix(e.get_message(), _connection_fix(str(e), user))]
    facts = found.facts
    version = facts.server_version.split()[0]
    where = f"journal {found.name}"
    problem = found.server_problem()
    findings.append(
        _fix(f"{where}: {problem}", "upgrade the PostgreSQL server")
        if problem is not None
        else _ok(f"{where}: PostgreSQL {version}, connected as role {facts.role}")
    )
    schema = found.schema_problem()
    if schema is None and found.versions is not None:
        findings.append(_ok(f"{where}: schema version {found.versions.core}, current"))
    elif schema is not None:
        newer = isinstance(schema, JournalSchemaError)
        fix = "upgrade labd" if newer else "labd journal migrate --url postgresql://OWNER@HOST/DB"
        findings.append(_fix(schema.get_message(), fix))
    missing = found.privileges_problem()
    if missing is not None:
        grants = f"as the tables' owner: labd journal grants {facts.role} | psql ..."
        findings.append(_fix(f"{where}: {missing}", grants))
    warning = found.rewrites_warning()
    findings.append(
        Finding(
            ok=True,
            warning=True,
            what=f"{where}: {warning}",
            fix="run labd as a role of its own (README: Several print servers): "
            "labd journal grants ROLE",
        )
        if warning is not None
        else _ok(
            f"{where}: role {facts.role} cannot UPDATE, DELETE or TRUNCATE events: the "
            "database keeps the event log append-only"
        )
    )
    return findings


def _connection_fix(problem: str, user: str) -> str:
    """How to mend a connection that failed (libpq's words say why; they are English)."""
    if "password file" in problem:
        return f"write the password into a file: mode 0600, owned by {user}"
    if "authentication" in problem:
        return (
            "put the role's password in password_file (ALTER ROLE ... PASSWORD sets a new "
            "one), and check pg_hba.conf"
        )
    return "start the PostgreSQL server, or correct [journal] url"


def _password_file(file: Path, user: str) -> Finding:
    """The password file: private, and the service's (or root's, for LoadCredential=)."""
    st = file.stat()
    mode = st.st_mode & 0o7777
    owner = _user_name(st.st_uid)
    if mode & 0o077:
        return _fix(
            f"password file {file}: mode {mode:04o}: others than {owner} can read the "
            "database password",
            f"chmod 0600 {file}",
        )
    if owner not in (user, "root"):
        return _fix(
            f"password file {file}: owned by {owner}: the service ({user}) cannot read it",
            f"chown {user} {file}",
        )
    if owner == "root" and not str(file).startswith("/run/credentials/"):
        return Finding(
            ok=True,
            warning=True,
            what=f"password file {file}: mode {mode:04o}, owned by root: the service "
            f"({user}) reads it only through LoadCredential=",
            fix=f"chown {user} {file}, or the drop-in systemd/labd-postgresql.conf",
        )
    return _ok(f"password file {file}: mode {mode:04o}, owned by {owner}")


def cmd_doctor(args: argparse.Namespace, out: TextIO) -> int:
    """Run the checks; exit non-zero when something needs fixing."""
    config = config_of(args)
    findings = [
        *check_installation(config, args.service_user),
        *check_journal(config, args.service_user),
        *check_cups(config),
        *check_hotfolders(config),
        *check_shares(config, args.smb_conf),
    ]
    for f in findings:
        mark = "warn" if f.warning else "ok  " if f.ok else "FIX "
        out.write(f"{mark} {f.what}\n")
        if f.fix:
            out.write(f"      fix: {f.fix}\n")
    problems = sum(not f.ok for f in findings)
    out.write(f"{problems} problem(s)\n" if problems else "no problems\n")
    return _PROBLEMS_EXIT if problems else 0


def register(sub: Subparsers) -> None:
    """Add doctor."""
    doctor = sub.add_parser(
        "doctor",
        help="check the installation, the journal, CUPS, the hot folders and their shares",
    )
    doctor.add_argument(
        "--smb-conf",
        type=Path,
        default=samba.DEFAULT_SMB_CONF,
        help="the Samba configuration to check (default: %(default)s)",
    )
    doctor.add_argument(
        "--service-user",
        default=SERVICE_USER,
        help="the user the service runs as, who must own state and spool (default: %(default)s)",
    )
    doctor.set_defaults(func=cmd_doctor)
