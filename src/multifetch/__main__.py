from multifetch.cli.main import main

main()
