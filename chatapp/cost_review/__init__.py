"""The staff cost review at /admin/costs/: queries, the chart, the page."""
