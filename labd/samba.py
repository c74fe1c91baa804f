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
    "security": "user",
    "valid users": "",
    "read only": "yes",
}
_TRUE: Final = frozenset({"yes", "true", "1", "on"})


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
    findings = []
    if glob.get("map to guest", "never").lower() != "never":
        findings.append(Finding("error", "[global]", "map to guest lets unknown users in as guest",
                                "set `map to guest = never`"))  # fmt: skip
    if glob.get("security", "user").lower() not in ("user", "ads", "domain"):
        findings.append(Finding("error", "[global]", "security is not user-level",
                                "set `security = user`"))  # fmt: skip
    shares = {
        Path(s["path"]).resolve(): name
        for name, s in config.items()
        if name != "global" and "path" in s
    }
    for hf in hotfolders:
        name = shares.get(hf.path.resolve())
        if name is None:
            findings.append(Finding("warning", f"hot folder {hf.name}",
                                    f"no Samba share exposes {hf.path}",
                                    "add a share (see config/smb.conf.example), or ignore this "
                                    "if technicians work on the print server itself"))  # fmt: skip
            continue
        findings.extend(_check_share(f"share [{name}]", config[name], glob))
    return findings


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
