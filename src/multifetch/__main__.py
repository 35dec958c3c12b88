from multifetch.cli.main import main

if __name__ == "__main__":  # engine processes started by "spawn" import this module again
    main()
