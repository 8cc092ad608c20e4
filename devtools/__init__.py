"""Development tools: how we test and demo the platform, not part of what production runs.

``simulator`` (seeded card transactions and delayed labels, drift on demand; a CLI),
``faults`` (the data fault injector), ``sample_data`` (simulator-derived frames for tests and
benches) and ``mail_sink`` (the local SMTP server of ``make run``). The production image
does not contain this package (Dockerfile copies include/, dags/, plugins/, feature_repo/,
usecase/ only).
"""
