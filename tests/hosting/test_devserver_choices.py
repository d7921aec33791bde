"""What `make run` keeps in DATA_DIR for a `manage.py` run by hand (hosting/env.py reads it back)."""

import stat

from hosting import devserver
from hosting.env import devserver_choices


def test_make_run_keeps_its_key_database_and_redis_readable_only_by_its_owner(tmp_path, monkeypatch):
    monkeypatch.setattr(devserver, "DATA_DIR", tmp_path)
    monkeypatch.setenv("DATABASE_URL", "postgres://hearth:pa'ss#word@db:5432/hearth")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/4")
    (tmp_path / "database_url").write_text("an older choice")
    (tmp_path / "database_url").chmod(0o644)

    key = devserver._secret_key()
    devserver._remember_choices()

    assert devserver._secret_key() == key and len(key) >= 32  # kept across runs
    assert devserver_choices({"DATA_DIR": str(tmp_path)}) == {
        "SECRET_KEY": key,
        "DATABASE_URL": "postgres://hearth:pa'ss#word@db:5432/hearth",
        "REDIS_URL": "redis://127.0.0.1:6379/4",
    }
    for name in ("secret_key", "database_url", "redis_url"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
