"""Deterministic, vectorised synthetic identified NHI-style extracts.

``generate(out_dir, persons, seed, extract_no)`` writes persons, providers, claims,
diagnoses and prescriptions as unquoted CSV, with a small documented share of bad lines
and the truth about them (docs/extract-format.md describes the format); ``outbreaks``
(``Outbreak.parse("REGION:YYYY-MM-DD:WEEKS:FACTOR")``) inject more cases of an indicator.
"""

from pseudonymize.synth._generate import FILES, SynthSummary, generate
from pseudonymize.synth._outbreak import Outbreak

__all__ = ["FILES", "Outbreak", "SynthSummary", "generate"]
