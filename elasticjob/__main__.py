from elasticjob.cli.main import main

if __name__ == "__main__":
    main()
