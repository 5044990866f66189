"""Benchmarks: ``python -m benchmarks`` prints a Markdown table of ratios."""
