"""What a newcomer and the MCP registry see: server.json, the README, the Dockerfile, the CLI, doctor."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import httpx
import jsonschema
import pytest
from starlette.applications import Starlette

from bugwarden import __version__, doctor
from tests.conftest import make_settings
from tests.readme_tools import splice

ROOT = Path(__file__).parents[1]
pytestmark = pytest.mark.anyio


def schema() -> dict:
    """The registry's schema, vendored (tests read nothing outside the repository)."""
    return json.loads((ROOT / "tests" / "data" / "server.schema.json").read_text())


def test_server_json_is_valid_and_versions_agree() -> None:
    doc = json.loads((ROOT / "server.json").read_text())
    jsonschema.validate(doc, schema())
    assert doc["$schema"].endswith("/2025-12-11/server.schema.json")
    assert len(doc["description"]) <= 100
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert doc["version"] == project["version"] == __version__
    pypi = next(p for p in doc["packages"] if p["registryType"] == "pypi")
    assert pypi["identifier"] == project["name"] and pypi["version"] == __version__
    assert pypi["runtimeHint"] == "uvx" and pypi["transport"] == {"type": "stdio"}
    assert all({"isRequired", "isSecret"} <= set(v) for v in pypi["environmentVariables"])
    names = {v["name"] for v in pypi["environmentVariables"]}
    assert {"BUGSNAG_AUTH_TOKEN", "BUGSNAG_API_URL", "BUGWARDEN_TOKEN", "BUGWARDEN_HOME"} <= names
    oci = next(p for p in doc["packages"] if p["registryType"] == "oci")
    assert oci["identifier"].endswith(f":{__version__}")
    assert project["scripts"] == {"bugwarden": "bugwarden.cli:main"}  # uvx runs the script named like the package


def test_server_json_names_every_variable_and_requires_none() -> None:
    """Every variable config.py reads (but the HTTP server's own) is listed; none is required (a BugSnag-only or a
    BugPort-only setup is valid, and the rest have defaults); credentials are secret; the container gets each."""
    from bugwarden.config import DEFAULT_BUGPORT_API_URL, DEFAULT_BUGSNAG_API_URL, DEFAULT_CACHING, DEFAULT_TOOLSETS

    doc = json.loads((ROOT / "server.json").read_text())
    config = (ROOT / "src" / "bugwarden" / "config.py").read_text()
    read = set(re.findall(r'"((?:BUGSNAG|BUGPORT|BUGWARDEN)_[A-Z_]+)"', config))
    http_only = {"BUGWARDEN_PUBLIC_URL", "BUGWARDEN_ALLOWED_HOSTS", "BUGWARDEN_ALLOWED_ORIGINS"}
    for package in doc["packages"]:
        variables = {v["name"]: v for v in package["environmentVariables"]}
        wanted = read - http_only - ({"BUGWARDEN_HOME"} if package["registryType"] == "oci" else set())
        assert wanted <= set(variables), f"{package['registryType']}: add {sorted(wanted - set(variables))}"
        assert not [n for n, v in variables.items() if v["isRequired"]], "nothing is required on its own"
        secret = {n for n in variables if n.endswith(("_TOKEN", "_KEY", "_DATABASE_URL", "_PASSWORD"))}
        assert {n for n, v in variables.items() if v["isSecret"]} == secret
        defaults = {n: v["default"] for n, v in variables.items() if "default" in v}
        assert defaults == {
            "BUGSNAG_API_URL": DEFAULT_BUGSNAG_API_URL,
            "BUGPORT_API_URL": DEFAULT_BUGPORT_API_URL,
            "BUGWARDEN_TOOLSETS": ",".join(DEFAULT_TOOLSETS),
            "BUGWARDEN_CACHE_TTL": f"{DEFAULT_CACHING.ttl:g}",
            "BUGWARDEN_CACHE_FRESH": f"{DEFAULT_CACHING.fresh:g}",
        }
    oci = next(p for p in doc["packages"] if p["registryType"] == "oci")
    passed = [a["value"] for a in oci["runtimeArguments"] if a["name"] == "-e"]
    assert passed == [v["name"] for v in oci["environmentVariables"]], "docker run -e for each variable"


def test_readme_carries_the_mcp_name_marker() -> None:
    name = json.loads((ROOT / "server.json").read_text())["name"]
    assert re.search(rf"mcp-name: {re.escape(name)}(\s|-->)", (ROOT / "README.md").read_text())


def test_readme_tools_table_matches_the_registry() -> None:
    readme = (ROOT / "README.md").read_text()
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        (ROOT / "README.md").write_text(splice(readme))
        readme = (ROOT / "README.md").read_text()
    assert readme == splice(readme), "README tools table drifted: run UPDATE_SNAPSHOTS=1 python -m pytest"


def test_dockerfile_properties() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)", text, re.M)
    assert len(stages) >= 2 and all("slim" in s for s in stages), "multi-stage on a slim base"
    final = text.rsplit("\nFROM ", 1)[1]
    assert re.search(r"^USER (?!root|0\b)\S+", final, re.M), "runs as a non-root user"
    assert 'io.modelcontextprotocol.server.name="io.github.bugwarden/bugwarden"' in final
    assert re.search(r'^  CMD \["python", "-m", "bugwarden.health"\]$', final, re.M), (
        "health check matches the transport"
    )
    assert re.search(r'^VOLUME \["/data"\]', final, re.M) and "BUGWARDEN_HOME=/data" in final
    assert 'ENTRYPOINT ["bugwarden"]' in final and 'CMD ["serve"]' in final
    assert 'pip install --no-cache-dir ".[postgres]"' in text, "the image can use BUGWARDEN_DATABASE_URL"
    assert not re.search(r"(TOKEN|SECRET|PASSWORD|KEY)\s*=", final.replace("BUGWARDEN_HOME", "")), "no baked secrets"
    assert not re.search(r"^(ARG|ENV) .*(TOKEN|SECRET)", text, re.M)


def test_the_compose_file_matches_the_code() -> None:
    """deploy/compose.yaml parses, and names the image server.json publishes, variables bugwarden reads, the port
    the image exposes, commands the CLI accepts, and a migration before the replicas start."""
    import yaml

    from bugwarden.cli import _parser
    from bugwarden.config import Settings

    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    services = compose["services"]
    image = next(p for p in json.loads((ROOT / "server.json").read_text())["packages"] if p["registryType"] == "oci")
    replicas = {name: s for name, s in services.items() if s.get("command", [None])[0] == "serve"}
    assert len(replicas) == 2 and services["migrate"]["command"] == ["db", "migrate"]
    exposed = re.search(r"^EXPOSE (\d+)", (ROOT / "Dockerfile").read_text(), re.M)
    assert exposed
    for service in [*replicas.values(), services["migrate"]]:
        assert service["image"] == image["identifier"]
        env = {
            k: re.sub(r"\$\{(\w+)[^}]*\}", lambda m: f"x-{m.group(1).lower()}", v)
            for k, v in service["environment"].items()
        }
        known = {"BUGWARDEN_DATABASE_URL", "BUGSNAG_AUTH_TOKEN", "BUGSNAG_API_URL", "BUGPORT_TOKEN", "BUGWARDEN_HOME"}
        assert set(env) <= known
        settings = Settings.from_env(env)
        assert settings.database_url is not None and "@postgres:5432/" in settings.database_url.reveal()
    for service in replicas.values():
        args = _parser().parse_args([re.sub(r"\$\{[^}]*\}", "mcp.example.com", a) for a in service["command"]])
        assert args.transport == "http" and args.stateless and args.host == "0.0.0.0"
        assert args.public_url == f"https://{args.allowed_host[0]}", "OAuth on, at the name clients use"
        assert args.oauth_registration == "open"
        assert [p.split(":")[1] for p in service["ports"]] == [str(args.port)] == [exposed.group(1)]
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    # Caddy terminates TLS and reaches both replicas on the port they listen on.
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in services["caddy"]["volumes"]
    upstreams = re.search(r"reverse_proxy ([^{]+)\{", caddyfile)
    assert upstreams
    assert sorted(upstreams.group(1).split()) == [f"{name}:{exposed.group(1)}" for name in sorted(replicas)]
    assert "health_uri /healthz" in caddyfile


def test_every_performance_figure_names_a_bench_script_and_every_script_is_reported() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Performance", 1)[1].split("\n## ", 1)[0]
    rows = [
        line for line in table.splitlines() if line.startswith("| ") and not line.startswith(("| benchmark", "| ---"))
    ]
    named = [re.findall(r"`(\w+\.py)`", row) for row in rows]
    assert rows and all(named), "a figure without the bench script that measured it"
    scripts = {p.name for p in (ROOT / "bench").glob("[!_]*.py")}
    assert {n for names in named for n in names} == scripts


def test_help_lists_every_command() -> None:
    out = subprocess.run([sys.executable, "-m", "bugwarden", "--help"], capture_output=True, text=True, check=True)
    for command in ("serve", "demo", "sandbox", "token", "audit", "doctor"):
        assert command in out.stdout


async def test_doctor_against_the_sandbox(sandbox: Starlette, home: Path) -> None:
    ok, lines = await doctor.run(make_settings(home), transport=httpx.ASGITransport(app=sandbox))
    text = "\n".join(lines)
    assert ok, text
    assert "2 organizations visible" in text and "Api Server (a7ab71b6e3e6ede0968e4209)" in text
    assert "rate limit headroom" in text


async def test_doctor_says_what_to_fix(sandbox: Starlette, home: Path) -> None:
    ok, lines = await doctor.run(make_settings(home, "wrong-token"), transport=httpx.ASGITransport(app=sandbox))
    assert not ok and any("fix: BUGSNAG_AUTH_TOKEN is wrong or revoked" in line for line in lines)
    ok, lines = await doctor.run(
        make_settings(home, bugsnag_project_id="nope"), transport=httpx.ASGITransport(app=sandbox)
    )
    assert not ok and any("BUGSNAG_PROJECT_ID" in line for line in lines)


def test_doctor_cli_against_a_real_sandbox_process(tmp_path: Path) -> None:
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "bugwarden", "sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert sandbox.stdout
        url = sandbox.stdout.readline().split()[-1]
        assert url.startswith("http://127.0.0.1:")
        env = {
            "PATH": os.environ.get("PATH", ""),
            "BUGWARDEN_HOME": str(tmp_path),
            "BUGSNAG_API_URL": url,
            "BUGSNAG_AUTH_TOKEN": "sandbox-admin-token",
        }
        out = subprocess.run(
            [sys.executable, "-m", "bugwarden", "doctor"], capture_output=True, text=True, env=env, timeout=60
        )
        assert out.returncode == 0, out.stdout + out.stderr
        assert "all checks passed" in out.stdout and "sandbox-admin-token" not in out.stdout
    finally:
        sandbox.terminate()
        sandbox.wait(10)
        sandbox.stdout.close()  # type: ignore[union-attr]


async def test_doctor_checks_bugport_too(sandbox: Starlette, bugport_sandbox: Starlette, home: Path) -> None:
    from tests.conftest import bugport_settings

    ok, lines = await doctor.run(
        bugport_settings(home, with_bugsnag=True),
        transport=httpx.ASGITransport(app=sandbox),
        bugport_transport=httpx.ASGITransport(app=bugport_sandbox),
    )
    text = "\n".join(lines)
    assert ok, text
    assert "BugPort health: ok, API version 0.2.0" in text and "scopes bugs:read, bugs:write" in text
    ok, lines = await doctor.run(
        bugport_settings(home, "bp_wrong"), bugport_transport=httpx.ASGITransport(app=bugport_sandbox)
    )
    assert not ok and any("fix: check BUGPORT_TOKEN" in line for line in lines)


def test_the_systemd_unit_matches_the_code() -> None:
    """deploy/bugwarden.service: a command the CLI accepts (HTTP on loopback), state in its own directory, secrets
    from an environment file, a stop timeout longer than the 30 s graceful shutdown, not root, hardened."""
    import configparser
    import shlex

    from bugwarden.cli import _parser

    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string((ROOT / "deploy" / "bugwarden.service").read_text())
    service = unit["Service"]
    words = shlex.split(service["ExecStart"])
    assert words[0] == "/opt/bugwarden/bin/bugwarden"
    args = _parser().parse_args(words[1:])
    assert (args.command, args.transport, args.host, args.port) == ("serve", "http", "127.0.0.1", 8000)
    assert service["User"] not in ("root", "0") and service["StateDirectoryMode"] == "0700"
    assert f"BUGWARDEN_HOME=/var/lib/{service['StateDirectory']}" in (ROOT / "deploy" / "bugwarden.service").read_text()
    assert service["EnvironmentFile"] == "/etc/bugwarden/env"
    assert not re.search(
        r"(TOKEN|SECRET|PASSWORD|KEY)=", (ROOT / "deploy" / "bugwarden.service").read_text().split("[Unit]")[1]
    )
    assert int(service["TimeoutStopSec"]) > 30 and service["KillSignal"] == "SIGTERM"
    assert service["NoNewPrivileges"] == "yes" and service["ProtectSystem"] == "strict"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_the_release_workflow_builds_tests_then_publishes_everywhere() -> None:
    """One tag: build (checking the tag against every version), test, then PyPI (trusted publishing), the image
    on GHCR and server.json on the MCP registry, each only after what it depends on."""
    import yaml

    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())
    assert workflow[True]["push"]["tags"] == ["v*"]  # YAML reads the key `on` as True
    jobs = workflow["jobs"]
    assert set(jobs) == {"build", "test", "pypi", "image", "mcp-registry"}
    needs = {
        name: set([job["needs"]] if isinstance(job.get("needs"), str) else job.get("needs", []))
        for name, job in jobs.items()
    }
    assert needs == {
        "build": set(),
        "test": {"build"},
        "pypi": {"build", "test"},
        "image": {"build", "test"},
        "mcp-registry": {"build", "pypi", "image"},
    }
    steps = {name: " ".join(json.dumps(step) for step in job["steps"]) for name, job in jobs.items()}
    assert "uv build" in steps["build"] and "server.json" in steps["build"] and "pyproject.toml" in steps["build"]
    assert "bash .ci/run" in steps["test"] and "dist/*.whl" in steps["test"]
    assert "pypa/gh-action-pypi-publish" in steps["pypi"] and jobs["pypi"]["permissions"] == {"id-token": "write"}
    assert "password" not in steps["pypi"], "trusted publishing: no API token"
    image = next(p for p in json.loads((ROOT / "server.json").read_text())["packages"] if p["registryType"] == "oci")
    assert image["identifier"].rsplit(":", 1)[0] + ":${{ needs.build.outputs.version }}" in steps["image"]
    assert jobs["image"]["permissions"]["packages"] == "write"
    assert "mcp-publisher login github-oidc" in steps["mcp-registry"] and "publish server.json" in steps["mcp-registry"]
