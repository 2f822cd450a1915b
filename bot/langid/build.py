"""Rebuild ``bot/langid/corpus/<lang>.txt`` from the NLU training examples.

Run from the repository root: ``python -m bot.langid.build``. Only training data
(nlu_data/<lang>/) is used, never the held-out sets in tests/data/.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

from bot.langid import CORPUS, SUPPORTED

ANNOTATION = re.compile(r"\[([^\]]+)\]\([^)]*\)|\[([^\]]+)\]\{[^}]*\}")


def examples(folder: Path) -> list[str]:
    found: list[str] = []
    for path in sorted(folder.glob("*.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in document.get("nlu") or []:
            if "intent" not in item or "synonym" in item:
                continue
            for line in str(item.get("examples", "")).splitlines():
                line = line.strip()
                if line.startswith("- "):
                    found.append(ANNOTATION.sub(lambda m: m[1] or m[2], line[2:]).strip())
    return found


def main(root: Path = Path(".")) -> int:
    CORPUS.mkdir(parents=True, exist_ok=True)
    for language in SUPPORTED:
        lines = examples(root / "nlu_data" / language)
        if not lines:
            print(f"{language}: no training examples", file=sys.stderr)
            continue
        (CORPUS / f"{language}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"{language}: {len(lines)} examples")
    return 0


if __name__ == "__main__":
    sys.exit(main())
