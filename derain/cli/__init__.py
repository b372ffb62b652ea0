"""The science layer's command lines: what every CLI of the project shares (``common``: one-line errors, exit
codes, ``--set`` parsing, logging) and the single-run CLIs of ``python -m derain.train`` and ``python -m
derain.toy1d`` (``single_run``)."""
