"""``python -m voxref`` runs the command line."""

from voxref.cli.main import main

raise SystemExit(main())
