import os
import sys

# Run from a checkout without installing: the package lives under src/.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
sys.path.insert(0, os.path.dirname(__file__))
