"""The integration recipes' shell blocks (docs/integrations/{dbt,airflow}.md), as the producer
tests and the recorder run them: the docs' placeholders become a real URL and token."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs" / "integrations"
URL, TOKEN = "http://headwater.example.com:5000", "hw_…"


def block(doc: str, marker: str, lang: str = "bash") -> str:
    """The one fenced block of that language in the doc that contains the marker."""
    found = [b for b in re.findall(rf"```{lang}\n(.*?)```", (DOCS / doc).read_text(), re.S)
             if marker in b]
    assert len(found) == 1, f"{doc}: expected one {lang} block with {marker!r}, found {len(found)}"
    return found[0]


def _fill(script: str, url: str, token: str) -> str:
    return script.replace(URL, url).replace(TOKEN, token)


def dbt_script(url: str, token: str) -> str:
    """Configure dbt-ol, then seed, run and test the project in the current directory."""
    return _fill(block("dbt.md", "dbt-ol run"), url, token)


def airflow_script(url: str, token: str) -> str:
    """Configure the provider's transport, then run the shop_export DAG once."""
    settings = _fill(block("airflow.md", "AIRFLOW__OPENLINEAGE__TRANSPORT="), url, token)
    return settings + "airflow db migrate >/dev/null\n" + block("airflow.md", "airflow dags test")


def airflow_dag() -> str:
    return block("airflow.md", "with DAG(", "python")
