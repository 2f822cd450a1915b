"""``python -m tests.bench [--rasa-replicas 2] ...``: see tests/bench/run.py."""

import sys

from tests.bench.run import main

sys.exit(main())
