"""Stage 4: the plan (no data touched): sources, group keys, contribution bounds, aggregates and their bounds, noised pieces and the ε split, totality guards, join bounds."""
