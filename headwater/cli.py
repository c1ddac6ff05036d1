"""The ``headwater`` command: one group, its subcommands in ``headwater.commands``."""

from __future__ import annotations

import click

from headwater.commands import cataloging, deciding, erasure, reading, sending, server


@click.group()
@click.version_option(package_name="headwater")
def main() -> None:
    """Headwater: OpenLineage lineage, governance and GDPR erasure."""


for command in (server.serve, server.token, server.migrate, sending.ingest, reading.lineage_cmd,
                reading.impact, deciding.gate, server.policy, sending.quality, erasure.erase,
                cataloging.search, cataloging.classify, cataloging.tag, cataloging.untag,
                cataloging.retention):
    main.add_command(command)
