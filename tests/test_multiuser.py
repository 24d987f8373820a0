"""Multi-user pieces without processes (issue 15): the mode, the per-user port keyed on the
user NAME, the connection file's place and permissions."""

from __future__ import annotations

import json
import os
import socket
import stat

import pytest

from gigachat.core.errors import ConfigError
from gigachat.core.settings import load_settings
from gigachat.local import multiuser


def test_mode_setting_env_and_detection(tmp_path):
    assert multiuser.enabled("true", detect=lambda env: False) is True
    assert multiuser.enabled("false", detect=lambda env: True) is False
    assert multiuser.enabled("auto", detect=lambda env: True) is True
    assert multiuser.enabled("auto", detect=lambda env: False) is False
    settings = load_settings(environ={"GIGACHAT_BRIDGE_MULTIUSER": "1"}, path=tmp_path / "s.json")
    assert multiuser.enabled(settings.multi_user, detect=lambda env: False) is True
    with pytest.raises(ConfigError, match="GIGACHAT_BRIDGE_MULTIUSER"):
        load_settings(environ={"GIGACHAT_BRIDGE_MULTIUSER": "maybe"}, path=tmp_path / "s.json")


def test_xrdp_and_x2go_sessions_are_remote():
    assert multiuser._linux_remote_session({"XRDP_SESSION": "1"}) is True
    assert multiuser._linux_remote_session({"X2GO_SESSION": "host-50-1"}) is True


def test_user_name_is_the_account_name_not_the_uid():
    assert multiuser.user_name({"USER": "ivanov", "USERNAME": "x"}) in ("ivanov", "x")
    assert multiuser.user_name({"LOGNAME": "petrova"}) == "petrova"


def test_port_is_keyed_on_the_name_and_stable(tmp_path):
    first, last = 8100, 8999
    alice = multiuser.preferred_port("alice", first, last)
    assert alice == multiuser.preferred_port("ALICE", first, last)  # Windows names ignore case
    assert alice != multiuser.preferred_port("bob", first, last)
    assert first <= alice <= last
    free = lambda port: True  # noqa: E731
    state = tmp_path / "port.json"
    assert multiuser.choose_port("alice", "8100-8999", state, free) == alice
    assert multiuser.choose_port("alice", "8100-8999", state, free) == alice


def test_a_busy_port_moves_on_and_the_move_is_remembered(tmp_path):
    state = tmp_path / "port.json"
    hashed = multiuser.preferred_port("carol", 8100, 8199)
    busy = {hashed}
    moved = multiuser.choose_port("carol", "8100-8199", state, lambda p: p not in busy)
    assert moved != hashed and 8100 <= moved <= 8199
    assert json.loads(state.read_text()) == {"user": "carol", "port": moved}
    # Restart after the other program went away: the remembered port is kept.
    assert multiuser.choose_port("carol", "8100-8199", state, lambda p: True) == moved
    # Another user's remembered file is not this user's.
    assert multiuser.choose_port("dave", "8100-8199", state, lambda p: True) == \
        multiuser.preferred_port("dave", 8100, 8199)
    with pytest.raises(ConfigError, match="8100-8199"):
        multiuser.choose_port("erin", "8100-8199", tmp_path / "e.json", lambda p: False)


def test_port_is_free_sees_a_listening_socket():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert not multiuser.port_is_free(sock.getsockname()[1])


def test_connection_file_goes_to_a_private_temp_dir_else_home(tmp_path):
    private = tmp_path / "tmp-ivanov"
    private.mkdir(mode=0o700)
    env = {"TMPDIR": str(private), "HOME": str(tmp_path / "home")}
    assert multiuser.connection_path(env) == private / "GigaChatBridge" / "connection.json"
    shared = tmp_path / "shared-tmp"
    shared.mkdir()
    shared.chmod(0o1777)
    env = {"TMPDIR": str(shared), "HOME": str(tmp_path / "home")}
    assert multiuser.connection_path(env) == tmp_path / "home" / ".GigaChatBridge" / "connection.json"


def test_connection_file_is_owner_only_and_removed_only_by_its_writer(tmp_path):
    path = tmp_path / "tmp" / "GigaChatBridge" / "connection.json"
    connection = multiuser.Connection(port=8123, key="k-123", url="http://127.0.0.1:8123",
                                      user="ivanov")
    multiuser.write_connection(connection, path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data == {"port": 8123, "key": "k-123", "url": "http://127.0.0.1:8123",
                    "pid": os.getpid(), "version": connection.version, "user": "ivanov"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    multiuser.remove_connection(path, pid=os.getpid() + 1)  # not ours: stays
    assert path.exists()
    multiuser.remove_connection(path)
    assert not path.exists()


def test_connection_file_refuses_a_symlinked_folder(tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir()
    link = tmp_path / "tmp"
    link.mkdir()
    (link / "GigaChatBridge").symlink_to(target)
    with pytest.raises(PermissionError):
        multiuser.write_connection(multiuser.Connection(1, "k", "u", "x"),
                                   link / "GigaChatBridge" / "connection.json")
    assert list(target.iterdir()) == []
