from radiovae.cli import main

raise SystemExit(main())
