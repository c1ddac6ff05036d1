"""The ``headwater`` command's subcommands, one module per kind of work."""
