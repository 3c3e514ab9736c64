"""The ``courtbox`` command line: one module per command group, each a thin shell over the
room it drives. ``courtbox.cli.main`` assembles them and is the entry point (``courtbox`` and
``python -m courtbox.cli.main``); ``courtbox.cli.shell`` is the error edge and the options
every command shares. This package module imports nothing, so that the command line adds no
level to the import graph."""
