"""The command-line tools: argparse, one library call, print (tools/*.py and the track1-* commands run them)."""
