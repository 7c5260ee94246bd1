"""Monte Carlo simulation over a compiled workbook (sampling, execution, summaries)."""
