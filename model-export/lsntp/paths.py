"""Where the project is (imports nothing heavy: the ingest and the command line use it before torch)."""
import os

PROJECT_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
