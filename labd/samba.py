"""Checks of the Samba shares that expose the hot folders (for ``labd doctor``).

labd does not run Samba; it reads the configuration Samba uses (``testparm -s -v``, which
prints every effective value, defaults included, or the file itself when testparm is
missing) and says, for each hot folder, what would let the wrong person in.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from labd.model import HotFolder

DEFAULT_SMB_CONF: Final = Path("/etc/samba/smb.conf")
# Samba's own defaults for the settings checked here, for when testparm is not there.
_DEFAULTS: Final = {
    "guest ok": "no",
    "wide links": "no",
    "follow symlinks": "yes",
    "create mask": "0744",
    "directory mask": "0755",
    "map to guest": "never",
    "valid users": "",
    "read only": "yes",
}
_TRUE: Final = frozenset({"yes", "true", "1", "on"})
# `security = auto`, Samba's default (what `testparm -v` prints when the file says nothing),
# is the security the server role implies: a member server authenticates against its
# domain (ads), every other role its own users.  Roles with the spellings Samba accepts.
_SECURITY_OF_ROLE: Final = {
    "auto": "user",  # a standalone server, unless domain settings say otherwise
    "standalone server": "user",
    "standalone": "user",
    "member server": "ads",
    "member": "ads",
    "classic primary domain controller": "user",
    "classic backup domain controller": "user",
    "active directory domain controller": "user",
    "domain controller": "user",
    "dc": "user",
}
# Every client logs in as a user of its own (Samba 4 accepts no other `security`; share
# and server, which were not, are refused by testparm and so read from the file itself).
_USER_LEVEL: Final = frozenset({"user", "domain", "ads"})


@dataclass(frozen=True)
class Finding:
    """One problem found, with the fix."""

    severity: str  # "error": customer data at risk; "warning": worth fixing
    subject: str
    problem: str
    fix: str


def parse(text: str) -> dict[str, dict[str, str]]:
    """smb.conf text to {section: {key: value}}; keys lower-case, as Samba reads them."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1].strip().lower(), {})
        elif "=" in line and current is not None:
            key, value = line.split("=", 1)
            current[" ".join(key.lower().split())] = value.strip()
    return sections


def effective_config(path: Path) -> dict[str, dict[str, str]]:
    """The configuration as Samba applies it: ``testparm -s -v`` if available."""
    testparm = shutil.which("testparm")
    if testparm is not None:
        result = subprocess.run(
            [testparm, "-s", "-v", "--suppress-prompt", str(path)],
            capture_output=True, text=True, check=False, timeout=30,
        )  # fmt: skip
        if result.returncode == 0:
            return parse(result.stdout)
    return parse(path.read_text())


def _get(share: Mapping[str, str], glob: Mapping[str, str], key: str) -> str:
    synonyms = {"guest ok": ("guest ok", "public"), "create mask": ("create mask", "create mode")}
    for name in synonyms.get(key, (key,)):
        if name in share:
            return share[name]
    for name in synonyms.get(key, (key,)):
        if name in glob:
            return glob[name]
    return _DEFAULTS.get(key, "")


def _octal(value: str) -> int:
    try:
        return int(value, 8)
    except ValueError:
        return 0o777


def check(
    config: Mapping[str, Mapping[str, str]], hotfolders: Iterable[HotFolder]
) -> list[Finding]:
    """What in the Samba configuration lets the wrong person reach a hot folder."""
    glob = config.get("global", {})
    shares = {
        Path(s["path"]).resolve(): name
        for name, s in config.items()
        if name != "global" and "path" in s
    }
    findings = []
    exposed = False
    for hf in hotfolders:
        name = shares.get(hf.path.resolve())
        if name is None:
            findings.append(Finding("warning", f"hot folder {hf.name}",
                                    f"no Samba share exposes {hf.path}",
                                    "add a share (see config/smb.conf.example), or ignore this "
                                    "if technicians work on the print server itself"))  # fmt: skip
            continue
        exposed = True
        findings.extend(_check_share(f"share [{name}]", config[name], glob))
    # The server-wide settings put customer files at risk only through a share of a hot
    # folder; until there is one (the demo, a lab working on the print server) they are
    # worth fixing before adding it, not a problem of labd's.
    severity, later = ("error", "") if exposed else ("warning", " (before sharing a hot folder)")
    server_wide = []
    if glob.get("map to guest", "never").lower() != "never":
        server_wide.append(Finding(severity, "[global]",
                                   "map to guest lets unknown users in as guest",
                                   f"set `map to guest = never`{later}"))  # fmt: skip
    security = _security(glob)
    if security is not None:
        server_wide.append(Finding(severity, "[global]", f"{security}: not user-level",
                                   f"set `security = user`{later}"))  # fmt: skip
    return server_wide + findings


def _security(glob: Mapping[str, str]) -> str | None:
    """What in ``[global]`` makes Samba's security other than user-level, or None."""
    security = " ".join(glob.get("security", "auto").lower().split())
    if security == "auto":
        role = " ".join(glob.get("server role", "auto").lower().split())
        if role not in _SECURITY_OF_ROLE:
            return f"security = auto with server role = {role}, a role Samba does not know"
        security = _SECURITY_OF_ROLE[role]
    return None if security in _USER_LEVEL else f"security = {security}"


def _check_share(subject: str, share: Mapping[str, str], glob: Mapping[str, str]) -> list[Finding]:
    found = []
    if _get(share, glob, "guest ok").lower() in _TRUE:
        found.append(Finding("error", subject, "guests may connect without a password",
                             "set `guest ok = no`"))  # fmt: skip
    if not _get(share, glob, "valid users").strip():
        found.append(Finding("error", subject, "every Samba account may connect",
                             "set `valid users = @lab` (or the technicians' names)"))  # fmt: skip
    if _get(share, glob, "wide links").lower() in _TRUE:
        found.append(Finding("error", subject, "wide links lets links lead outside the share",
                             "set `wide links = no`"))  # fmt: skip
    for key, fix in (("create mask", "0660"), ("directory mask", "0770")):
        if _octal(_get(share, glob, key)) & 0o007:
            found.append(Finding("error", subject,
                                 f"{key} {_get(share, glob, key)} lets users outside the lab "
                                 "read customer files", f"set `{key} = {fix}`"))  # fmt: skip
    if _get(share, glob, "follow symlinks").lower() in _TRUE:
        found.append(Finding("warning", subject, "clients may create and follow links",
                             "set `follow symlinks = no` (labd refuses links anyway)"))  # fmt: skip
    return found
