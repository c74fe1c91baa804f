"""Allow ``python -m labd``."""

from labd.cli import main

raise SystemExit(main())
