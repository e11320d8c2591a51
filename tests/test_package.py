"""The public surface stays what scripts and tests rely on."""

import subprocess
import sys

import bugwarden


def test_all_lists_exactly_the_public_names() -> None:
    assert bugwarden.__all__ == ["Settings", "__version__", "build_server"]
    for name in bugwarden.__all__:
        assert getattr(bugwarden, name) is not None


def test_importing_the_package_does_not_import_the_mcp_sdk() -> None:
    code = "import sys, bugwarden, bugwarden.cli; print('mcp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
