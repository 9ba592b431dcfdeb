from faktctl.cli import main

main()
