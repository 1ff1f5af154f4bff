"""Stage 1–3: researcher SQL → a checked SELECT (no data touched): parse, authorise, check_shape, the rules they run, the catalog, name resolution and canonical SQL."""
