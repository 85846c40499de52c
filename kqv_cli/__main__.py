from kqv_cli.main import run

run()
