"""What the commands and the screens both do, written once: one module per service.

* :mod:`~kqv_cli.services.datasets`: find and load the text and the digits a run trains on;
* :mod:`~kqv_cli.services.models`: where the app keeps its trained models, and which one it keeps;
* :mod:`~kqv_cli.services.sampling`: text from a trained character GPT, digits read by the net.
* :mod:`~kqv_cli.services.numbers`: numbers a person typed, checked (flags, settings);
* :mod:`~kqv_cli.services.real_models`: the real model (GPT-2, MarianMT) a lesson can run on.

A command (``kqv_cli/commands``) and a screen (``kqv_cli/tui/screens``) call these and keep only
their presentation: progress bars, status lines, colours. Nothing here imports Textual or draws.
"""
