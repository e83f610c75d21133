"""`python -m sedsl` and the `sedsl` console script.

`sedsl check` with plain arguments runs without importing click (sedsl/check/command.py):
click's import is a tenth of a cold check. Anything else goes to the click CLI.

The CLI's imports take a tenth of a second; Ctrl-C in that time (or in a click-free
check) would surface as a traceback from inside some import. Caught here, it ends as
click ends a Ctrl-C (`Aborted!`, exit 1) once the commands run."""

from __future__ import annotations

import gc
import sys


def run() -> None:
    try:
        if sys.argv[1:2] == ["check"]:
            from sedsl.check.command import fast_check

            code = fast_check(sys.argv[2:])
            if code is not None:
                # the process ends here: spare the cycle collector its last pass over all
                # that is still alive at exit (3% of a cold check of spaces/)
                gc.freeze()
                sys.exit(code)
        from sedsl.cli import main
    except KeyboardInterrupt:
        sys.stderr.write("\nAborted!\n")
        sys.exit(1)
    main(prog_name="sedsl")


if __name__ == "__main__":
    run()
