"""The SQL the gateway writes from a plan: bounded totals, the one-pass auto query, quantile histograms, and the rewrite stage that builds them."""
