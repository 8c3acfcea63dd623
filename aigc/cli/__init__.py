"""The `aigc` command line: `main` parses, `commands` does the work, `finetune` runs a fine-tune job."""

from aigc.cli.main import main

__all__ = ["main"]
