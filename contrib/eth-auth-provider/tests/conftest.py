"""Puts the presence router's test harness (real Synapse processes) and make_config.py on the path."""

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO_ROOT / "contrib" / "presence-router" / "tests"))
sys.path.insert(0, str(REPO_ROOT / "contrib" / "synapse"))
