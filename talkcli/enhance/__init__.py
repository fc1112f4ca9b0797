"""Optional face restoration of rendered crops (GFPGAN), behind a dependency probe (``probe.py``)."""
