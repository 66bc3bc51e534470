"""`python -m kb`: the composition root, handing over to the command line (web/cli, the
application shell beside the HTTP app). The one import against the layers, named in the
import-linter contract (pyproject.toml)."""
from web.cli import main

raise SystemExit(main())
