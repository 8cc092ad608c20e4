"""Data quality: expectation suites built from the use-case spec, validation, quarantine."""
