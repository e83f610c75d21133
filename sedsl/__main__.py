"""`python -m sedsl` and the `sedsl` console script.

The CLI's imports take a tenth of a second; Ctrl-C in that time would surface as a
traceback from inside some import. Caught here, it ends as click ends a Ctrl-C
(`Aborted!`, exit 1) once the commands run."""

from __future__ import annotations

import sys


def run() -> None:
    try:
        from sedsl.cli import main
    except KeyboardInterrupt:
        sys.stderr.write("\nAborted!\n")
        sys.exit(1)
    main(prog_name="sedsl")


if __name__ == "__main__":
    run()
