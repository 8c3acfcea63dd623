"""How the whole suite runs: spread over two processes by pytest-xdist (`-n 2 --dist loadfile`).

The suite is mostly single-threaded and the machine it must stay fast on has two cores, so the default
run uses both. A test file runs in one process, so module fixtures are built once; session fixtures that
train models are built once per run and shared between the processes (`tests/tiny.py: built_once`).
`-n 0` runs everything in this process (for a debugger, or one quick test without starting workers).
"""

import os

# One torch thread per process, set before anything imports torch: two workers on two cores, each with
# torch's default of one thread per core, spend their time waiting for each other (tiny models gain
# nothing from threads). A test that is about threads sets its own count.
os.environ.setdefault("OMP_NUM_THREADS", "1")
