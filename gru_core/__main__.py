from gru_core.cli import main

raise SystemExit(main())
