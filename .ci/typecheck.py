"""mypy on the packages against a baseline that can only go down.

The code predates the type checker, so it starts with errors; failing on all of them would switch the
check off in practice. Instead the number of errors is stored in .ci/mypy-baseline: a change that adds
errors fails (fix them), and a change that removes some fails too, asking for the lower number to be
written down, so the count can never creep back up. `make typecheck` and .ci/run call this.

    python .ci/typecheck.py            # check
    python .ci/typecheck.py --update   # write the current count (only when it fell)
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / ".ci" / "mypy-baseline"
ERROR = re.compile(r"^[^:\s]+\.py:\d+: error:", re.MULTILINE)


def count_errors() -> tuple[int, str]:
    """Run mypy as configured in pyproject.toml ([tool.mypy]: which packages, how strict)."""
    proc = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    output = proc.stdout + proc.stderr
    # 1: type errors found; 2: mypy itself failed (config, crash). A 1 with no error line is Python's own
    # "No module named mypy" (a Python without the dev extra), not a clean run.
    if proc.returncode not in (0, 1) or (proc.returncode == 1 and not ERROR.search(output)):
        raise SystemExit(f"typecheck: mypy could not run (exit code {proc.returncode}):\n{output[-2000:]}")
    return len(ERROR.findall(output)), output


def main(argv: list[str]) -> int:
    baseline = int(BASELINE.read_text().split()[0])
    count, output = count_errors()
    if "--update" in argv:
        if count > baseline:
            print(f"typecheck: {count} errors is more than the baseline {baseline}; the baseline only goes down")
            return 1
        BASELINE.write_text(f"{count}\n")
        print(f"typecheck: baseline is now {count}")
        return 0
    if count > baseline:
        print(output, end="")
        print(f"typecheck: {count} mypy errors, baseline {baseline}: fix the {count - baseline} new one(s) above")
        return 1
    if count < baseline:
        print(f"typecheck: {count} mypy errors, baseline {baseline}: well done; lower the baseline with")
        print("    python .ci/typecheck.py --update   (and commit .ci/mypy-baseline)")
        return 1
    print(f"typecheck: {count} mypy errors, as in the baseline")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
