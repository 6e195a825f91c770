import sys

from rnncourse.instructor.cli import main

sys.exit(main())
