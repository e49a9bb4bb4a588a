from mlpbench.cli import main

raise SystemExit(main())
