from camscan.cli.main import run

run()
