from kqv_cli.last_resort import main

main()
