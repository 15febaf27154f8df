"""Behavioural parity: the same checks on containers of two images, side by side (checks,
the testinfra backend, the runner, the result, and the pytest suite runner)."""
