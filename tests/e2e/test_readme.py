"""The README's tour works as written: every bash block of "A 10-minute tour", in order, in one
shell, against a fresh test server."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import Server

README = Path(__file__).resolve().parents[2] / "README.md"


def tour_blocks() -> list[str]:
    text = README.read_text()
    section = text.split("\n## A 10-minute tour\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", section, re.S)


@pytest.fixture(params=["embedded"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_quick_start_block_runs(server: Server) -> None:
    blocks = tour_blocks()
    assert len(blocks) >= 5
    assert "token create" in blocks[0] and "curl" in blocks[0]
    script = "\n".join(blocks).replace("http://127.0.0.1:5000", server.url)
    env = {**server.env, "HEADWATER_URL": server.url}
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env, text=True,
                            capture_output=True, timeout=180, cwd=README.parent)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # 1. the event is stored and its lineage printed
    assert '"status":"created"' in out
    assert "dataset postgres://shop:5432 shop.public.orders" in out
    assert "job etl load_orders" in out
    # 2. the classification reaches the derived column
    assert '"classifyField":{"name":"email","classifications":["pii.email"]}' in out
    assert ('{"name":"email","classifications":[],"inheritedClassifications":["pii.email"]}'
            in out)
    # 3. dropping the column breaks orders.email downstream
    assert "BREAKING" in out and "exit code 1: something downstream reads email" in out
    # 4. the gate refuses to copy e-mail addresses into an export for marketing
    assert re.search(r"^(MASK|DENY)  \(decision ", out, re.M), out
    assert re.search(r"^exit code [23]$", out, re.M), out
    # 5. the erasure request is filed, followed and audited (planning runs in the background)
    assert re.search(r"^[0-9a-f-]{36}  (RECEIVED|PLANNED|RUNNING|PARTIAL)  GDPR  received ", out,
                     re.M), out
    assert "filed" in out
