"""``python -m helpers``: the same as the ``llm-workbook`` command (:mod:`helpers.workbook.cli`)."""

import sys

from helpers.workbook.cli import main

sys.exit(main())
