from djperf.cli import main

raise SystemExit(main())
