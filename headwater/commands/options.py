"""Options and argument parsing shared by the commands."""

from __future__ import annotations

import click

url_option = click.option("--url", envvar="HEADWATER_URL", default="http://127.0.0.1:5000",
                          show_default=True, help="Headwater server.")


def dataset_readings(value: str, namespaces: list[str]) -> list[tuple[str, str]]:
    """Every (namespace, name) ``NS:NAME`` can mean with a known namespace, longest first."""
    known = sorted((ns for ns in namespaces if value.startswith(ns + ":")), key=len, reverse=True)
    return [(ns, value[len(ns) + 1:]) for ns in known if value[len(ns) + 1:]]


def split_dataset(value: str, namespaces: list[str], lenient: bool = False) -> tuple[str, str]:
    """``NS:NAME`` split at the last colon that leaves a known namespace (namespaces contain
    colons: ``postgres://db:5432:shop.public.orders``); ``lenient``: else at the last colon."""
    readings = dataset_readings(value, namespaces)
    if readings:
        return readings[0]
    if lenient and ":" in value.strip(":"):
        ns, _, name = value.rpartition(":")
        return ns, name
    raise click.BadParameter(f"{value!r} does not start with a known namespace and ':'; known "
                             f"namespaces: {', '.join(namespaces) or 'none yet'}")


def pairs(values: tuple[str, ...], option: str) -> list[tuple[str, str]]:
    out = []
    for v in values:
        a, sep, b = v.partition("=")
        if not sep or not a or not b:
            raise click.BadParameter(f"{option} wants A=B, got {v!r}")
        out.append((a, b))
    return out
