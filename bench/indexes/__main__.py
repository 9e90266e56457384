from bench.indexes.command import main

main(prog_name="python -m bench.indexes")
