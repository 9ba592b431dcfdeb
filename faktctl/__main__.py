from faktctl.entry import main

main()
