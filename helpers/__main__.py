"""``python -m helpers``: the same as the ``llm-workbook`` command (:mod:`helpers.cli`)."""

import sys

from helpers.cli import main

sys.exit(main())
