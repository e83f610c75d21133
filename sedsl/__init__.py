"""sedsl: a declarative language and code generator for neural attention search spaces."""

from pathlib import Path

from sedsl.resources import GRAMMAR_PATH, LIBRARY_DIR, TEMPLATES_DIR

__version__ = "0.1.0"

# the folder that holds the package (the checkout, or site-packages in an installed wheel);
# where the grammar, templates and shipped libraries are: sedsl.resources
ROOT = Path(__file__).resolve().parent.parent

__all__ = ["GRAMMAR_PATH", "LIBRARY_DIR", "ROOT", "TEMPLATES_DIR", "__version__"]
