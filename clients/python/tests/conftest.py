import os
import sys

# The installed package when there is one (scripts/test.sh installs it into clients/python/.venv); from a checkout
# without installing, the package under src/.
try:
    import scarcity_client  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
sys.path.insert(0, os.path.dirname(__file__))
