from gtnbench.cli import main

raise SystemExit(main())
