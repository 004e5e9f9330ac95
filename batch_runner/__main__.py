from batch_runner.cli import main

raise SystemExit(main())
