"""Noise and what leaves: OpenDP noise on exact totals (the only code that sees them), quantile releases, estimates and intervals, post-processing, the privacy-loss check, the dry run."""
