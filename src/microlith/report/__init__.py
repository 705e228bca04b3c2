"""HTML reports (report/html.py)."""
