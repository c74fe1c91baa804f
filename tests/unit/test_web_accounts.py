"""The console's accounts, sessions and login throttle, on a real journal (SQLite and
PostgreSQL) and the manual clock: lockouts and idle sessions end without a sleep."""

from __future__ import annotations

from pathlib import Path

import pytest

from labd.clock import ManualClock
from labd.config import parse
from labd.errors import ConfigError
from labd.journal import Journal
from labd.web.accounts import (
    LOCK_AFTER,
    LOCK_MINUTES,
    AccountError,
    Accounts,
    Outcome,
    Role,
)
from labd.web.pages import local_path
from labd.web.sessions import AddressThrottle, Sessions
from tests.factories import print_settings, run_labd, write_config

PASSWORD = "a long enough password"  # noqa: S105  # the test account's


def _events(journal: Journal, after: int = 0) -> list[tuple[str, dict[str, object], str | None]]:
    return [(e.kind, dict(e.data), e.detail) for e in journal.events(after=after)]


def test_accounts_are_added_changed_and_disabled_with_chained_events(journal: Journal) -> None:
    accounts = Accounts(journal)
    added = accounts.add("kari", Role.SUPERVISOR, PASSWORD, by="root")
    assert (added.name, added.role, added.disabled) == ("kari", Role.SUPERVISOR, False)
    accounts.set_password("kari", "another long password", by="root")
    accounts.set_disabled("kari", disabled=True, by="ola")
    accounts.set_disabled("kari", disabled=False, by="ola")
    assert [(k, d) for k, d, _ in _events(journal)] == [
        ("web.user_added", {"user": "kari", "role": "supervisor", "by": "root"}),
        ("web.password_changed", {"user": "kari", "by": "root"}),
        ("web.user_disabled", {"user": "kari", "by": "ola"}),
        ("web.user_enabled", {"user": "kari", "by": "ola"}),
    ]
    assert accounts.authenticate("kari", PASSWORD, address="10.0.0.9").outcome is (
        Outcome.WRONG_PASSWORD
    )
    assert accounts.authenticate("kari", "another long password", address="10.0.0.9").outcome is (
        Outcome.OK
    )
    for _, data, detail in _events(journal):
        for secret in (PASSWORD, "another long password", "$argon2"):
            assert secret not in repr(data) + repr(detail)
    assert [a.name for a in accounts.all()] == ["kari"]


@pytest.mark.parametrize(
    ("name", "password", "message"),
    [
        pytest.param("Kari", PASSWORD, "is not a user name", id="capital"),
        pytest.param("kari nordmann", PASSWORD, "is not a user name", id="space"),
        pytest.param("../kari", PASSWORD, "is not a user name", id="path"),
        pytest.param("kåri", PASSWORD, "is not a user name", id="non-ascii"),
        pytest.param("k" * 33, PASSWORD, "is not a user name", id="too-long"),
        pytest.param("", PASSWORD, "is not a user name", id="empty"),
        pytest.param("kari", "short", "too short", id="short-password"),
        pytest.param("kari", " " * 12, "too short", id="blank-password"),
        pytest.param("kari", "x" * 1025, "too long", id="huge-password"),
    ],
)
def test_a_bad_name_or_password_is_refused_and_nothing_is_written(
    journal: Journal, name: str, password: str, message: str
) -> None:
    with pytest.raises(AccountError, match=message):
        Accounts(journal).add(name, Role.ADMIN, password, by="root")
    assert Accounts(journal).all() == []
    assert journal.last_seq() == 0


def test_a_taken_name_and_an_unknown_account_are_refused(journal: Journal) -> None:
    accounts = Accounts(journal)
    accounts.add("kari", Role.TECHNICIAN, PASSWORD, by="root")
    seq = journal.last_seq()
    with pytest.raises(AccountError, match="already an account 'kari'"):
        accounts.add("kari", Role.ADMIN, PASSWORD, by="root")
    with pytest.raises(AccountError, match="no account 'ola'; the accounts: kari"):
        accounts.set_password("ola", PASSWORD, by="root")
    with pytest.raises(AccountError, match="no account 'ola'"):
        accounts.set_disabled("ola", disabled=True, by="root")
    assert journal.last_seq() == seq
    assert accounts.must("kari").role is Role.TECHNICIAN


def test_wrong_passwords_lock_the_account_for_a_while(journal: Journal, clock: ManualClock) -> None:
    accounts = Accounts(journal)
    accounts.add("kari", Role.TECHNICIAN, PASSWORD, by="root")
    seq = journal.last_seq()
    outcomes = [
        accounts.authenticate("kari", f"guess {n}", address="10.0.0.7").outcome
        for n in range(LOCK_AFTER)
    ]
    assert outcomes == [Outcome.WRONG_PASSWORD] * (LOCK_AFTER - 1) + [Outcome.LOCKED]
    locked = accounts.authenticate("kari", PASSWORD, address="10.0.0.7")
    assert locked.outcome is Outcome.LOCKED
    assert locked.locked_until == "2026-01-01T12:15:00.000Z"  # LOCK_MINUTES on the clock
    events = _events(journal, seq)
    assert [k for k, _, _ in events] == ["web.login_failed"] * LOCK_AFTER + [
        "web.locked",
        "web.login_failed",
    ]
    assert events[LOCK_AFTER][1] == {
        "user": "kari",
        "failures": LOCK_AFTER,
        "until": "2026-01-01T12:15:00.000Z",
    }
    assert {d for _, _, d in events} == {"from 10.0.0.7"}  # outside the chain: erasable

    clock.advance(LOCK_MINUTES * 60 - 1)
    assert accounts.authenticate("kari", PASSWORD, address="10.0.0.7").outcome is Outcome.LOCKED
    clock.advance(1)
    ok = accounts.authenticate("kari", PASSWORD, address="10.0.0.7")
    assert ok.outcome is Outcome.OK
    assert ok.account is not None
    assert ok.account.failed_logins == 0
    assert ok.account.locked_until is None
    # The count starts again: one wrong password does not lock it.
    assert accounts.authenticate("kari", "guess", address="x").outcome is Outcome.WRONG_PASSWORD


def test_disabled_and_unknown_accounts_are_refused_and_journaled(journal: Journal) -> None:
    accounts = Accounts(journal)
    accounts.add("kari", Role.TECHNICIAN, PASSWORD, by="root")
    accounts.set_disabled("kari", disabled=True, by="root")
    seq = journal.last_seq()
    assert accounts.authenticate("kari", PASSWORD, address="a").outcome is Outcome.DISABLED
    typed = "my password by mistake"
    assert accounts.authenticate(typed.replace(" ", ""), PASSWORD, address="a").outcome is (
        Outcome.UNKNOWN_USER
    )
    assert [d for _, d, _ in _events(journal, seq)] == [
        {"user": "kari", "why": "disabled"},
        {"user": None, "why": "unknown_user"},  # what was typed is not kept
    ]


def test_a_session_ends_after_the_idle_time_without_a_persons_request() -> None:
    clock = ManualClock()
    sessions = Sessions(clock, idle_seconds=600)
    session = sessions.start("kari", Role.TECHNICIAN)
    other = sessions.start("kari", Role.TECHNICIAN)
    assert session.token != other.token
    assert session.csrf != other.csrf
    clock.advance(599)
    assert sessions.get(session.token) is session  # a request: the idle time starts again
    clock.advance(599)
    assert sessions.get(session.token, touch=False) is session  # live updates do not count
    clock.advance(1)
    assert sessions.get(session.token) is None
    assert sessions.get(other.token) is None
    assert len(sessions) == 0
    assert sessions.get("") is None
    assert sessions.get("no such token") is None


def test_ending_a_users_sessions_leaves_the_others() -> None:
    sessions = Sessions(ManualClock(), idle_seconds=60)
    kari = sessions.start("kari", Role.ADMIN)
    ola = sessions.start("ola", Role.TECHNICIAN)
    sessions.end_user("kari")
    assert sessions.get(kari.token) is None
    assert sessions.get(ola.token) is ola
    sessions.end(ola.token)
    assert sessions.get(ola.token) is None


def test_an_address_that_keeps_failing_waits_for_its_window() -> None:
    clock = ManualClock()
    throttle = AddressThrottle(clock, limit=3, window=60)
    assert [throttle.failed("10.0.0.5") for _ in range(3)] == [False, False, True]
    assert throttle.blocked("10.0.0.5")
    assert not throttle.blocked("10.0.0.6")  # another machine is not held back
    clock.advance(59)
    assert throttle.blocked("10.0.0.5")
    clock.advance(1)
    assert not throttle.blocked("10.0.0.5")


# -- [web] in the configuration -----------------------------------------------------------------


def _web(tmp_path: Path, web: dict[str, object]) -> dict[str, dict[str, object]]:
    return {**print_settings(tmp_path, "cups", "q"), "web": web}


def test_the_web_settings_have_safe_defaults_and_read_tls(tmp_path: Path) -> None:
    config = parse(_web(tmp_path, {}), str(tmp_path / "labd.toml"))
    assert config.web.listen == ("127.0.0.1", 8631)
    assert (config.web.tls_cert, config.web.tls_key) == (None, None)
    assert config.web.session_idle_minutes == 30
    web = {"listen": "[::1]:8443", "tls_cert": "c.pem", "tls_key": "/etc/k.pem"}
    config = parse(_web(tmp_path, {**web, "session_idle_minutes": 5}), str(tmp_path / "l.toml"))
    assert config.web.listen == ("::1", 8443)
    assert config.web.tls_cert == tmp_path / "c.pem"  # relative to the configuration file
    assert config.web.tls_key == Path("/etc/k.pem")
    assert config.web.session_idle_minutes == 5


@pytest.mark.parametrize(
    ("web", "key", "problem"),
    [
        pytest.param({"listen": "console:8631"}, "web.listen", "not an IP address", id="name"),
        pytest.param({"listen": "127.0.0.1"}, "web.listen", "not an address and port", id="port"),
        pytest.param({"listen": "127.0.0.1:0"}, "web.listen", "out of range", id="zero"),
        pytest.param({"tls_cert": "c.pem"}, "web.tls_key", "TLS needs both", id="no-key"),
        pytest.param({"tls_key": "k.pem"}, "web.tls_cert", "TLS needs both", id="no-cert"),
        pytest.param(
            {"session_idle_minutes": 0}, "web.session_idle_minutes", "out of range", id="idle"
        ),
        pytest.param({"port": 8631}, "web.port", "unknown setting", id="typo"),
    ],
)
def test_a_bad_web_setting_names_the_file_and_the_key(
    tmp_path: Path, web: dict[str, object], key: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(_web(tmp_path, web), str(tmp_path / "labd.toml"))
    assert (caught.value.file, caught.value.key) == (str(tmp_path / "labd.toml"), key)
    assert problem in caught.value.problem


# -- labd user --------------------------------------------------------------------------------


def test_labd_user_takes_the_password_from_a_file_never_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    from labd.schemas import open_journal  # noqa: PLC0415  # the daemon would have made it

    open_journal(tmp_path / "state" / "journal.sqlite").close()
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD + "\nsecond line ignored\n")
    assert run_labd(config, "user", "add", "kari", "--role", "admin", "--password-file",
                    str(secret)) == (0, "user kari: added, admin\n")  # fmt: skip
    code, _ = run_labd(config, "user", "add", "kari", "--role", "admin", PASSWORD)
    assert code == 2  # no place for a password on the command line
    capsys.readouterr()
    code, out = run_labd(config, "user", "add", "Bad Name", "--role", "admin")
    assert (code, out) == (50, "")
    assert "'Bad Name' is not a user name" in capsys.readouterr().err
    code, _ = run_labd(config, "user", "passwd", "ola", "--password-file", str(secret))
    assert code == 50
    assert "no account 'ola'; the accounts: kari" in capsys.readouterr().err
    code, out = run_labd(config, "user", "list")
    assert code == 0
    assert out.splitlines()[1].split()[:3] == ["kari", "admin", "enabled"]


# -- where a login or an action sends the browser back ------------------------------------------


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        pytest.param("/jobs/3", "/jobs/3", id="a-page"),
        pytest.param("/?hotfolder=prints", "/?hotfolder=prints", id="a-filter"),
        pytest.param("//evil.example/", "/", id="another-site"),
        pytest.param("/\\evil.example", "/", id="backslash"),
        pytest.param("https://evil.example/", "/", id="absolute"),
        pytest.param("/ x", "/", id="space"),
        pytest.param("", "/", id="empty"),
        pytest.param(None, "/", id="none"),
    ],
)
def test_only_a_path_on_the_console_is_gone_back_to(target: str | None, expected: str) -> None:
    assert local_path(target) == expected
