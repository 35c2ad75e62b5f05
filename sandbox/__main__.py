from sandbox.cli import entry

entry()
