"""sedsl: a declarative language and code generator for neural attention search spaces."""

from pathlib import Path

__version__ = "0.1.0"

# grammars/ and templates/ live at the top of the repository (one source of truth each);
# the package finds them from its own location, which an editable install preserves.
ROOT = Path(__file__).resolve().parent.parent
GRAMMAR_PATH = ROOT / "grammars" / "space.lark"
TEMPLATES_DIR = ROOT / "templates"
