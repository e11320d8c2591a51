"""Settings come from one injectable environ; errors name the variable and the bad value; secrets never print."""

from pathlib import Path

import pytest

from bugwarden.config import DEFAULT_BUGSNAG_API_URL, ConfigError, Secret, Settings, parse_toolsets


def test_reads_everything_from_the_given_environ(tmp_path: Path) -> None:
    s = Settings.from_env(
        {
            "BUGSNAG_AUTH_TOKEN": " tok ",
            "BUGSNAG_PROJECT_ID": "p",
            "BUGWARDEN_HOME": str(tmp_path),
            "BUGWARDEN_TOOLSETS": "insights,core",
            "BUGWARDEN_CACHE_TTL": "60",
            "BUGPORT_TOKEN": "bp",
            "BUGPORT_API_URL": "https://bp.example/v1/",
        }
    )
    assert s.bugsnag_token == Secret("tok") and s.bugsnag_api_url == DEFAULT_BUGSNAG_API_URL
    assert s.toolsets == ("core", "insights") and s.caching.ttl == 60 and s.home == tmp_path
    assert s.bugport_api_url == "https://bp.example/v1" and s.backends == ("bugsnag", "bugport")


def test_flags_override_the_environment() -> None:
    s = Settings.from_env({"BUGWARDEN_TOOLSETS": "core"}, toolsets="all")
    assert s.toolsets == ("core", "insights", "admin", "destructive")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"BUGSNAG_API_URL": "ftp://x"}, "'BUGSNAG_API_URL' has value 'ftp://x'"),
        ({"BUGSNAG_API_URL": "https://user:pw@api.bugsnag.com"}, "must not carry credentials"),
        ({"BUGPORT_API_URL": "https://api.bugport.dev"}, "must end in '/v1'"),
        ({"BUGWARDEN_TOOLSETS": "core,everything"}, "Choose from core, insights, admin, destructive"),
        ({"BUGWARDEN_CACHE_TTL": "soon"}, "'BUGWARDEN_CACHE_TTL' has value 'soon'. Not a valid number"),
        ({"BUGWARDEN_CACHE_TTL": "-1"}, "Must not be negative"),
        ({"BUGWARDEN_STATE_KEY": "short"}, "'BUGWARDEN_STATE_KEY' is too short"),
    ],
)
def test_errors_name_the_variable_and_the_value(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        Settings.from_env(environ)


def test_secrets_do_not_print() -> None:
    s = Settings.from_env({"BUGSNAG_AUTH_TOKEN": "very-secret", "BUGWARDEN_TOKEN": "bw_also_secret"})
    assert "very-secret" not in repr(s) and "bw_also_secret" not in str(s)
    assert s.bugsnag_token is not None and s.bugsnag_token.reveal() == "very-secret"


def test_toolsets_parse() -> None:
    assert parse_toolsets("all") == ("core", "insights", "admin", "destructive")
    with pytest.raises(ConfigError):
        parse_toolsets("")
