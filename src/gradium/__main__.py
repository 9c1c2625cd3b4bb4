from gradium.cli.main import main

main()
