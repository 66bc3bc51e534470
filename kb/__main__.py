"""`python -m kb`: hands over to the command line, which lives in indexer (it drives ingest)."""
from indexer.cli import main

raise SystemExit(main())
