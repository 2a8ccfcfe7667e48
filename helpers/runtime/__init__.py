"""How the workbook runs, beside the teaching core: settings and profiles (``config``), loading models
(``models``), files written atomically (``storage``) and result tables (``results``), input checks
(``checks``), the caches of generations and trained adapters (``generation_cache``, ``adapter_cache``) and
saved indexes (``persistence``). A learner can skip this package; ``docs/ARCHITECTURE.md`` maps it."""
