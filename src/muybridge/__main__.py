from muybridge.cli import main

main()
