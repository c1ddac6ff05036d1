"""The README's quick-start commands work as written (against a test server)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import Server

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(params=["embedded"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_quick_start_block_runs(server: Server) -> None:
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), re.S)
    block = next(b for b in blocks if "token create" in b and "curl" in b)
    script = block.replace("http://127.0.0.1:5000", server.url)
    env = {**server.env, "HEADWATER_URL": server.url}
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env, text=True,
                            capture_output=True, timeout=120, cwd=README.parent)
    assert result.returncode == 0, result.stderr
    assert '"status":"created"' in result.stdout
    assert "dataset postgres://shop:5432 shop.public.orders" in result.stdout
    assert "job etl load_orders" in result.stdout
