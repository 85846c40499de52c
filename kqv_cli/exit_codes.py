"""The exit codes of ``kqv``, one definition each.

A script can tell the three apart: its input refused (2), stopped by the user (130), kqv broken
(70). Every module that ends the process with one of them imports it from here.
"""

EXIT_USER_ERROR = 2  # bad input, whoever says so (cli.fail, usage_errors, last_resort): one code
EXIT_INTERNAL_ERROR = 70  # sysexits.h EX_SOFTWARE: a bug in kqv
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C
