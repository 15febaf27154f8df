"""Reading: layer tar streams → file records, whiteouts and the merged view, taps."""
